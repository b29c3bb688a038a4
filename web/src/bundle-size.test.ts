// @vitest-environment node
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'
import { afterAll, describe, expect, it } from 'vitest'

const BUDGET_BYTES = 300 * 1024
const outDir = mkdtempSync(join(tmpdir(), 'ccproxy-web-'))
afterAll(() => rmSync(outDir, { recursive: true, force: true }))

/** The JavaScript a first visit loads before any page: index.html's module script and its modulepreloads. */
function initialScripts(html: string): string[] {
  const srcs = [...html.matchAll(/<script[^>]+type="module"[^>]+src="([^"]+)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"/g)]
  return srcs.map((m) => m[1]!.replace(/^\/ui\//, ''))
}

describe('the production bundle', () => {
  it('loads at most 300 KB of gzipped JavaScript up front; pages and charts come later', async () => {
    // vitest runs with NODE_ENV=test, which would bundle React's development build
    process.env.NODE_ENV = 'production'
    await build({ mode: 'production', configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)), logLevel: 'silent', build: { outDir, emptyOutDir: true } })
    const html = readFileSync(join(outDir, 'index.html'), 'utf8')
    const scripts = initialScripts(html)
    expect(scripts.length).toBeGreaterThan(0)
    const gzipped = scripts.reduce((sum, file) => sum + gzipSync(readFileSync(join(outDir, file))).length, 0)
    console.log(`initial JavaScript: ${(gzipped / 1024).toFixed(1)} KB gzipped in ${scripts.length} files`)
    expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES)
    // the heavy libraries are not in it: Recharts and Prism load with the first chart / code block
    const initial = scripts.map((f) => readFileSync(join(outDir, f), 'utf8')).join('\n')
    expect(initial).not.toContain('recharts')
    expect(initial).not.toMatch(/Prism\.languages/)
  }, 60_000)
})
