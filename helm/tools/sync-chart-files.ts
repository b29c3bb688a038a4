// Copies the dashboards and alert rules into the chart (helm/ccproxy/files/), because Helm's .Files only sees
// files inside the chart directory and `helm package` would not follow links out of it. Run after
// `npm run dashboards`; `--check` only reports what differs (exit 1). test/helm-chart.test.ts checks the copies.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const FILES = join(ROOT, 'helm/ccproxy/files')

/** chart file → repository source, for every file the chart carries */
export function chartCopies(): Array<{ source: string; copy: string }> {
  const dashboards = readdirSync(join(ROOT, 'dashboards/json')).filter((f) => f.endsWith('.json')).sort()
  return [
    ...dashboards.map((f) => ({ source: join(ROOT, 'dashboards/json', f), copy: join(FILES, 'dashboards', f) })),
    { source: join(ROOT, 'dashboards/prometheus/ccproxy-rules.yaml'), copy: join(FILES, 'prometheus/ccproxy-rules.yaml') },
  ]
}

/** files under files/dashboards that no longer have a source */
export function strayCopies(): string[] {
  const dir = join(FILES, 'dashboards')
  const wanted = new Set(chartCopies().map((c) => c.copy))
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)).filter((f) => !wanted.has(f)) : []
}

function main(check: boolean): number {
  const stale = chartCopies().filter(({ source, copy }) => !existsSync(copy) || !readFileSync(copy).equals(readFileSync(source)))
  const stray = strayCopies()
  if (check) {
    for (const { copy } of stale) console.error(`out of date: ${copy}`)
    for (const f of stray) console.error(`no longer in dashboards/: ${f}`)
    return stale.length + stray.length > 0 ? 1 : 0
  }
  for (const { source, copy } of stale) {
    mkdirSync(dirname(copy), { recursive: true })
    copyFileSync(source, copy)
    console.log(`copied ${copy}`)
  }
  for (const f of stray) rmSync(f)
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.includes('--check')))
