// Headless Chromium for the end-to-end suite: Debian's `chromium` driven by playwright-core (no browser
// download), axe-core injected into the page, screenshots for docs/screenshots/, and the built web app.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import axe from 'axe-core'
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SCREENSHOT_DIR = join(ROOT, 'docs/screenshots')

/** Debian installs `chromium`; CHROMIUM_PATH overrides. Undefined when there is none (the suite then skips). */
export const chromiumPath: string | undefined = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p): p is string => !!p && existsSync(p),
)
export const noChromium = chromiumPath
  ? ''
  : 'skipped: no Chromium (install Debian\'s `chromium` with apt-get, or set CHROMIUM_PATH)'
if (noChromium) console.warn(`e2e: ${noChromium}`)

// machine-notes §4: the flags that make Chromium quiet and quick in a container.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath!, headless: true, args: CHROMIUM_ARGS })
}

export type Theme = 'light' | 'dark'
export const VIEWPORT = { width: 1280, height: 800 }

/** A fresh browser profile (own cookies and storage) on the gateway, in the given system theme. */
export async function newAppContext(browser: Browser, baseURL: string, theme: Theme = 'light'): Promise<BrowserContext> {
  const context = await browser.newContext({
    baseURL,
    viewport: VIEWPORT,
    colorScheme: theme,
    locale: 'en-US',
    timezoneId: 'UTC',
    acceptDownloads: true,
    reducedMotion: 'reduce',
  })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL })
  context.setDefaultTimeout(10_000)
  const pending = new Set<Request>()
  context.on('request', (r) => pending.add(r))
  context.on('requestfinished', (r) => pending.delete(r))
  context.on('requestfailed', (r) => pending.delete(r))
  inFlight.set(context, pending)
  return context
}

const inFlight = new WeakMap<BrowserContext, Set<Request>>()

/**
 * Resolves once the page's context has had no request in flight for `quietMs` (quicker than Playwright's
 * networkidle, which always waits 500 ms).
 */
export async function networkQuiet(page: Page, quietMs = 150, timeoutMs = 15_000): Promise<void> {
  const pending = inFlight.get(page.context())
  if (!pending) return page.waitForLoadState('networkidle')
  const deadline = Date.now() + timeoutMs
  let quietSince = Date.now()
  for (;;) {
    if (pending.size > 0) quietSince = Date.now()
    else if (Date.now() - quietSince >= quietMs) return
    if (Date.now() > deadline) throw new Error(`requests still in flight: ${[...pending].map((r) => r.url()).join(', ')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Collects what goes wrong inside the page: uncaught exceptions and Content-Security-Policy refusals (HTTP
 * errors the app handles, such as a 401 before sign-in, are not counted).
 */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) errors.push(`${page.url()}: ${msg.text()}`)
  })
  return errors
}

// ── The built app ───────────────────────────────────────────────────────────────────────────────────────

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = 0
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)))
  return newest
}

/**
 * Builds web/dist when it is missing or older than the app's sources (CI's `npm install` builds it in its
 * postinstall; a developer who edited web/src gets a fresh build). One build at a time across test files.
 */
export async function ensureWebBuilt(): Promise<void> {
  const web = join(ROOT, 'web')
  const built = join(web, 'dist/index.html')
  const sources = () => Math.max(newestMtime(join(web, 'src')), newestMtime(join(web, 'index.html')), newestMtime(join(web, 'vite.config.ts')))
  const fresh = () => existsSync(built) && statSync(built).mtimeMs >= sources()
  if (fresh()) return
  const lock = join(ROOT, 'node_modules/.cache/ccproxy-web-build.lock')
  mkdirSync(dirname(lock), { recursive: true })
  const deadline = Date.now() + 180_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      // a build left behind by a killed run must not block every later one
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmdirSync(lock)
      if (Date.now() > deadline) throw new Error(`e2e: waited too long for ${lock}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  try {
    if (!fresh()) execFileSync('npm', ['run', 'build:web'], { cwd: ROOT, stdio: 'inherit' })
  } finally {
    rmdirSync(lock)
  }
}

// ── Accessibility ───────────────────────────────────────────────────────────────────────────────────────

export interface AxeFinding {
  id: string
  impact: string
  help: string
  nodes: string[]
}

/** Runs axe-core on the page as it is now; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeFinding[]> {
  const loaded = await page.evaluate(() => typeof (globalThis as any).axe === 'object')
  // evaluated through the devtools protocol, not a <script> tag: the app's Content-Security-Policy stays on
  if (!loaded) await page.evaluate(axe.source)
  return page.evaluate(async () => {
    const result = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ['violations'] })
    return (result.violations as any[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: (v.nodes as any[]).slice(0, 5).map((n) => `${n.target.join(' ')} — ${String(n.failureSummary ?? '').split('\n')[1]?.trim().slice(0, 240) ?? ''}`),
      }))
  })
}

/** A readable list of findings for an assertion message. */
export function describeFindings(where: string, findings: AxeFinding[]): string {
  return findings.map((f) => `${where}: [${f.impact}] ${f.id} — ${f.help}\n    ${f.nodes.join('\n    ')}`).join('\n')
}

// ── Screenshots ─────────────────────────────────────────────────────────────────────────────────────────

/** docs/screenshots/<name>-<theme>.png at 1280×800 (the viewport, not the full page: what a user sees first). */
export async function screenshot(page: Page, name: string, theme: Theme): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, `${name}-${theme}.png`)
  // no blinking caret, half-finished transition or hover tooltip (the pointer rests where the last click was)
  await page.mouse.move(VIEWPORT.width - 1, VIEWPORT.height - 1)
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' })
  return path
}
