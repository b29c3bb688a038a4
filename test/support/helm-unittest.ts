import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { parse } from 'yaml'
import { CHART, renderChart, renderFailure, RenderError, type K8sObject, type RenderOptions } from './helm-render.ts'

// Runs chart test suites written in helm-unittest's format (helm/ccproxy/tests/*_test.yaml), so the same files
// would run under `helm unittest` where helm exists. Supported: suite `templates`; per test `set`, `values`,
// `release` {name, namespace, upgrade}, `capabilities.apiVersions`, `template`, `documentIndex`,
// `documentSelector` {path, value}; asserts equal, notEqual, exists, notExists, contains, notContains,
// matchRegex, notMatchRegex, isKind, hasDocuments, lengthEqual, isSubset, failedTemplate; `not: true`.
// Paths: a.b[0].c, a["key.with/dots"], list[?(@.name == "X")].

export interface Suite {
  file: string
  suite: string
  templates: string[]
  tests: Job[]
}

interface Job {
  it: string
  set?: Record<string, unknown>
  values?: string[]
  release?: { name?: string; namespace?: string; upgrade?: boolean }
  capabilities?: { apiVersions?: string[] }
  template?: string
  documentIndex?: number
  documentSelector?: { path: string; value: unknown }
  asserts: Array<Record<string, any>>
}

export function loadSuite(file: string): Suite {
  const raw = parse(readFileSync(file, 'utf8')) as Omit<Suite, 'file'>
  return { ...raw, file }
}

/** "a.b\.c" → nested {a: {"b.c": value}}, merged into target */
function setPath(target: Record<string, any>, path: string, value: unknown) {
  const keys = path.split(/(?<!\\)\./).map((k) => k.replace(/\\\./g, '.'))
  let node = target
  for (const k of keys.slice(0, -1)) node = node[k] = typeof node[k] === 'object' && node[k] !== null ? node[k] : {}
  node[keys.at(-1)!] = value
}

type Step = { key: string } | { index: number } | { filter: { field: string; value: unknown } }

function parsePath(path: string): Step[] {
  const steps: Step[] = []
  const re = /\[\?\(@\.([\w.-]+)\s*==\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^)]+)\)\]|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.[\]]+)/gy
  let m: RegExpExecArray | null
  while (re.lastIndex < path.length && (m = re.exec(path))) {
    if (m[1]) steps.push({ filter: { field: m[1], value: JSON.parse(m[2]!.startsWith("'") ? `"${m[2]!.slice(1, -1)}"` : m[2]!) } })
    else if (m[3] !== undefined) steps.push({ key: m[3] })
    else if (m[4] !== undefined) steps.push({ index: Number(m[4]) })
    else steps.push({ key: m[5]! })
  }
  if (re.lastIndex !== path.length && steps.length === 0) throw new Error(`cannot parse path ${path}`)
  return steps
}

/** every value the path reaches (a filter may reach several) */
export function select(object: unknown, path: string): unknown[] {
  let nodes: unknown[] = [object]
  for (const step of parsePath(path)) {
    nodes = nodes.flatMap((n): unknown[] => {
      if ('key' in step) return n !== null && typeof n === 'object' && !Array.isArray(n) && step.key in n ? [(n as any)[step.key]] : []
      if ('index' in step) return Array.isArray(n) && step.index < n.length ? [n[step.index]] : []
      return Array.isArray(n) ? n.filter((e) => e && isDeepStrictEqual(e[step.filter.field], step.filter.value)) : []
    })
  }
  return nodes
}

function isSubset(whole: unknown, part: unknown): boolean {
  if (part === null || typeof part !== 'object') return isDeepStrictEqual(whole, part)
  if (whole === null || typeof whole !== 'object') return false
  return Object.entries(part).every(([k, v]) => isSubset((whole as any)[k], v))
}

const show = (v: unknown) => JSON.stringify(v)

/** Runs one test of a suite; throws with what differed. */
export function runJob(suite: Suite, job: Job): void {
  const here = dirname(suite.file)
  const values: Record<string, any> = {}
  for (const [path, value] of Object.entries(job.set ?? {})) setPath(values, path, value)
  const opts: RenderOptions = {
    valueFiles: (job.values ?? []).map((f) => resolve(here, f)),
    values,
    apiVersions: job.capabilities?.apiVersions,
    // helm-unittest's defaults
    release: job.release?.name ?? 'RELEASE-NAME',
    namespace: job.release?.namespace ?? 'NAMESPACE',
    upgrade: job.release?.upgrade,
  }
  const failure = job.asserts.find((a) => a.failedTemplate)
  if (failure) {
    const error = renderFailure(opts)
    const { errorMessage, errorPattern } = failure.failedTemplate
    if (!error) throw new Error('expected the chart to fail rendering, and it rendered')
    if (errorMessage && !error.includes(errorMessage)) throw new Error(`error ${show(error)} does not contain ${show(errorMessage)}`)
    if (errorPattern && !new RegExp(errorPattern).test(error)) throw new Error(`error ${show(error)} does not match /${errorPattern}/`)
    return
  }
  let rendered
  try {
    rendered = renderChart(opts)
  } catch (err) {
    if (err instanceof RenderError) throw new Error(`the chart failed to render: ${err.message}`)
    throw err
  }
  for (const assert of job.asserts) {
    const templates = [assert.template ?? job.template ?? suite.templates].flat()
    let docs: K8sObject[] = rendered.documents.filter((d) => templates.includes(d.template)).map((d) => d.object)
    const index = assert.documentIndex ?? job.documentIndex
    const selector = assert.documentSelector ?? job.documentSelector
    if (selector) docs = docs.filter((d) => select(d, selector.path).some((v) => isDeepStrictEqual(v, selector.value)))
    if (index !== undefined) docs = docs[index] ? [docs[index]] : []
    const [kind, args] = Object.entries(assert).find(([k]) => !['template', 'documentIndex', 'documentSelector', 'not'].includes(k))!
    const negate = assert.not === true
    if (kind === 'hasDocuments') {
      if ((docs.length === args.count) === negate) throw new Error(`hasDocuments: ${docs.length} documents in ${templates.join(', ')}, expected ${negate ? 'not ' : ''}${args.count}`)
      continue
    }
    if (docs.length === 0) throw new Error(`${kind}: no document rendered from ${templates.join(', ')}`)
    for (const doc of docs) {
      const found = args?.path !== undefined ? select(doc, args.path) : []
      const value = found[0]
      let ok: boolean
      let said: string
      switch (kind) {
        case 'equal':
        case 'notEqual':
          ok = found.length > 0 && isDeepStrictEqual(value, args.value)
          if (kind === 'notEqual') ok = !ok
          said = `${args.path} is ${show(value)}, expected ${kind === 'notEqual' ? 'not ' : ''}${show(args.value)}`
          break
        case 'exists':
        case 'notExists':
          ok = found.length > 0 && value !== null && value !== undefined
          if (kind === 'notExists') ok = !ok
          said = `${args.path} ${kind === 'exists' ? 'is absent' : `exists: ${show(value)}`}`
          break
        case 'contains':
        case 'notContains': {
          const hits = Array.isArray(value) ? value.filter((e) => isDeepStrictEqual(e, args.content) || (typeof args.content === 'object' && isSubset(e, args.content) && args.any)).length : 0
          ok = args.count !== undefined ? hits === args.count : hits > 0
          if (kind === 'notContains') ok = hits === 0
          said = `${args.path} (${show(value)}) ${kind === 'contains' ? 'does not contain' : 'contains'} ${show(args.content)}`
          break
        }
        case 'matchRegex':
        case 'notMatchRegex':
          ok = typeof value === 'string' && new RegExp(args.pattern).test(value)
          if (kind === 'notMatchRegex') ok = typeof value === 'string' && !ok
          said = `${args.path} (${show(value)}) ${kind === 'matchRegex' ? 'does not match' : 'matches'} /${args.pattern}/`
          break
        case 'isKind':
          ok = doc.kind === args.of
          said = `kind is ${doc.kind}, expected ${args.of}`
          break
        case 'lengthEqual':
          ok = Array.isArray(value) && value.length === args.count
          said = `${args.path} has ${Array.isArray(value) ? value.length : 'no'} items, expected ${args.count}`
          break
        case 'isSubset':
          ok = isSubset(value, args.content)
          said = `${args.path} (${show(value)}) does not include ${show(args.content)}`
          break
        default:
          throw new Error(`unsupported assertion ${kind}`)
      }
      if (ok === negate) throw new Error(`${doc.kind}/${doc.metadata?.name}: ${negate ? `not ${kind}: ` : ''}${said}`)
    }
  }
}

export const TESTS_DIR = resolve(CHART, 'tests')
