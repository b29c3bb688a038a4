import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { DASHBOARDS_DIR, renderFiles } from './render.ts'

/**
 * `npm run dashboards` writes the dashboard JSON, provisioning files and Prometheus rules from the code;
 * `npm run dashboards -- --check` only reports files that differ (for CI) and exits 1 if any do.
 */
const check = process.argv.includes('--check')
const files = renderFiles()
const stale: string[] = []

for (const [path, content] of files) {
  const target = join(DASHBOARDS_DIR, path)
  const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined
  if (current === content) continue
  stale.push(path)
  if (!check) {
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, content)
  }
}
// a dashboard renamed or removed in the code leaves no JSON behind
const jsonDir = join(DASHBOARDS_DIR, 'json')
for (const name of existsSync(jsonDir) ? readdirSync(jsonDir) : []) {
  const path = `json/${name}`
  if (files.has(path)) continue
  stale.push(path)
  if (!check) rmSync(join(DASHBOARDS_DIR, path))
}

if (check && stale.length > 0) {
  console.error(`out of date (run npm run dashboards):\n  ${stale.join('\n  ')}`)
  process.exit(1)
}
console.log(stale.length === 0 ? 'dashboards are up to date' : `${check ? 'out of date' : 'wrote'}: ${stale.join(', ')}`)
