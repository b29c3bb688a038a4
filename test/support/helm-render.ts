import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments, stringify } from 'yaml'

// Renders helm/ccproxy with helm/tools/render (Go text/template + Sprig, as Helm does), built once per source
// version in GOPATH mode from Debian's packages (golang-go, golang-github-masterminds-sprig-dev,
// golang-k8s-sigs-yaml-dev): those resolve `github.com/Masterminds/sprig/v3` only in GOPATH mode.

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const CHART = join(ROOT, 'helm/ccproxy')
export const EXAMPLES = ['minimal', 'bundled-clickhouse', 'production'] as const
export const examplePath = (name: string) => join(CHART, 'examples', `${name}.yaml`)

const SOURCE = join(ROOT, 'helm/tools/render')
const GOPATH_LIBS = '/usr/share/gocode'
export const goAvailable = spawnSync('go', ['version']).status === 0 && existsSync(join(GOPATH_LIBS, 'src/github.com/Masterminds/sprig'))
export const ifGo = goAvailable
  ? ''
  : ' [SKIPPED: go or sprig missing; apt-get install -y --no-install-recommends golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev golang-gopkg-yaml.v3-dev]'

let binary: string | undefined

/** The renderer's path, building it into the temp dir when its source changed (concurrent builders race safely). */
export function renderer(): string {
  if (binary) return binary
  const hash = createHash('sha256').update(readFileSync(join(SOURCE, 'main.go'))).update(readFileSync(join(SOURCE, 'go.mod'))).digest('hex').slice(0, 16)
  const target = join(tmpdir(), `ccproxy-helm-render-${hash}`)
  if (!existsSync(target)) {
    const gopath = mkdtempSync(join(tmpdir(), 'ccproxy-helm-gopath-'))
    try {
      const src = join(gopath, 'src/ccproxyrender')
      mkdirSync(src, { recursive: true })
      cpSync(SOURCE, src, { recursive: true })
      const out = join(gopath, 'render')
      const build = spawnSync('go', ['build', '-o', out, '.'], {
        cwd: src,
        encoding: 'utf8',
        env: { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:${GOPATH_LIBS}`, GOCACHE: join(tmpdir(), 'ccproxy-helm-gocache'), GOFLAGS: '' },
      })
      if (build.status !== 0) throw new Error(`building helm/tools/render failed:\n${build.stderr}`)
      renameSync(out, target)
    } finally {
      rmSync(gopath, { recursive: true, force: true })
    }
  }
  return (binary = target)
}

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: any
}

export interface RenderOptions {
  /** another chart directory (the renderer's own tests) */
  chart?: string
  /** values laid over values.yaml, after the files */
  values?: object
  valueFiles?: string[]
  apiVersions?: string[]
  release?: string
  namespace?: string
  upgrade?: boolean
}

export interface Rendered {
  text: string
  /** every manifest with the template it came from */
  documents: Array<{ template: string; object: K8sObject }>
  objects: K8sObject[]
  /** the object of this kind and name; throws when absent */
  get(kind: string, name: string): K8sObject
}

function run(opts: RenderOptions, extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'ccproxy-helm-values-'))
  try {
    const files = [...(opts.valueFiles ?? [])]
    if (opts.values) {
      files.push(join(dir, 'values.yaml'))
      writeFileSync(files.at(-1)!, stringify(opts.values))
    }
    const args = ['-chart', opts.chart ?? CHART, '-name', opts.release ?? 'ccproxy', '-namespace', opts.namespace ?? 'ccproxy', ...extra]
    for (const f of files) args.push('-f', f)
    for (const a of opts.apiVersions ?? []) args.push('-api-versions', a)
    if (opts.upgrade) args.push('-upgrade')
    return spawnSync(renderer(), args, { encoding: 'utf8' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export class RenderError extends Error {}

/** Renders the manifests (like `helm template`) and parses every document; throws RenderError on a template error. */
export function renderChart(opts: RenderOptions = {}): Rendered {
  const result = run(opts)
  if (result.status !== 0) throw new RenderError(result.stderr.trim())
  const documents: Rendered['documents'] = []
  let template = ''
  // a template that renders several documents separates them with its own `---`: they keep its source line
  for (const chunk of result.stdout.split(/^---\n/m).filter((c) => c.trim())) {
    template = /^# Source: [\w-]+\/(\S+)/.exec(chunk)?.[1] ?? template
    if (!template) throw new Error(`a document without its source line:\n${chunk.slice(0, 200)}`)
    for (const doc of parseAllDocuments(chunk, { uniqueKeys: true })) {
      if (doc.errors.length > 0) throw new Error(`${template}: ${doc.errors.map((e) => e.message).join('; ')}`)
      const object = doc.toJS() as K8sObject | null
      if (object) documents.push({ template, object })
    }
  }
  const objects = documents.map((d) => d.object)
  return {
    text: result.stdout,
    documents,
    objects,
    get(kind, name) {
      const found = objects.find((o) => o.kind === kind && o.metadata.name === name)
      if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`)
      return found
    },
  }
}

/** The error text of a render that must fail (empty when it rendered). */
export function renderFailure(opts: RenderOptions): string {
  const result = run(opts)
  return result.status === 0 ? '' : result.stderr.trim()
}

/** templates/NOTES.txt, rendered. */
export function renderNotes(opts: RenderOptions = {}): string {
  const result = run(opts, ['-notes'])
  if (result.status !== 0) throw new RenderError(result.stderr.trim())
  return result.stdout
}
