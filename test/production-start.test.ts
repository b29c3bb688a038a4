import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import OpenAI from 'openai'
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client'
import { readMigrations } from '../src/warehouse/migrate.ts'
import { startMockAnthropic, type MockAnthropic } from './support/mock-anthropic.ts'
import { ADMIN_KEY, UPSTREAM_KEYS, eventually } from './support/gateway.ts'
import { CLIENT_AUTH } from './support/embedded-http.ts'
import { spawnGateway, untilReady, type GatewayProcess, clickhouseServerEnv } from './support/gateway-process.ts'

// No container runs here (machine-notes §9), so the image's steps are taken one by one: the build stage's
// `npm run build`, the runtime stage's production install (into a directory laid out as /app), and the
// image's CMD run from there as its user — numeric, non-root, unable to write anything but its data directory
// when this runs as root — against a ClickHouse server (another ccproxy's embedded engine over HTTP, writable)
// and the mock upstream.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DOCKERFILE = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8').replace(/\\\n/g, ' ')
const CMD = JSON.parse(/^CMD (\[.*\])$/m.exec(DOCKERFILE)![1]!) as string[]
// the runtime stage's install, with its default (no embedded engine)
const INSTALL = /npm (install --omit=dev .*?) &&/.exec(DOCKERFILE)![1]!.replace('${optional}', '--omit=optional').split(/\s+/)
const [, IMAGE_UID, IMAGE_GID] = /^USER (\d+):(\d+)$/m.exec(DOCKERFILE)!.map(Number)
const IMAGE_ENV = Object.fromEntries([...DOCKERFILE.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]))
// Only root can start a process as another user; anyone else runs it as themselves.
const asImageUser = process.getuid?.() === 0 ? { uid: IMAGE_UID!, gid: IMAGE_GID! } : {}
const DATABASE = 'production'
const MODEL = 'claude-sonnet-4-5-20250929'

/** `npm <args>` in `cwd`; resolves with its output, rejects on a failure. */
function npm(args: string[], cwd: string): Promise<{ ms: number }> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.once('exit', (code) => (code === 0 ? resolve({ ms: Date.now() - started }) : reject(new Error(`npm ${args.join(' ')} exited ${code}:\n${output}`))))
  })
}

/** Every file under `dir` with its size and modification time (what a write would change). */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => {
    const path = join(e.parentPath, e.name)
    const s = statSync(path)
    return `${relative(dir, path)} ${s.size} ${s.mtimeMs}`
  }).sort()
}

let app: string
let upstream: MockAnthropic
let clickhouse: GatewayProcess
let clickhouseUrl: string
let reader: ClickHouseClient
const timings: Record<string, number> = {}

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'ccproxy-app-'))
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(app, file))
  // the two stages at once, as BuildKit would run them
  const [build, install] = await Promise.all([npm(['run', 'build'], ROOT), npm([...INSTALL, '--prefer-offline'], app)])
  Object.assign(timings, { build_ms: build.ms, install_ms: install.ms })
  // the runtime stage's COPY lines: the build's output, the web app when it was built, config and migrations
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true })
  if (existsSync(join(ROOT, 'web/dist'))) cpSync(join(ROOT, 'web/dist'), join(app, 'web/dist'), { recursive: true })
  cpSync(join(ROOT, 'config.yaml'), join(app, 'config.yaml'))
  cpSync(join(ROOT, 'clickhouse'), join(app, 'clickhouse'), { recursive: true })
  chmodSync(app, 0o755) // root's, readable by the image user, writable by nobody else

  upstream = await startMockAnthropic()
  // The "ClickHouse server": a ccproxy on its embedded engine, its HTTP interface writable, compiled too.
  clickhouse = spawnGateway(['dist/main.js', 'start'], {
    cwd: ROOT,
    env: await clickhouseServerEnv('ccproxy-clickhouse-', ADMIN_KEY),
  })
  clickhouseUrl = await clickhouse.clickhouseUrl
  reader = createClient({ url: clickhouseUrl, database: DATABASE, ...CLIENT_AUTH, log: { level: ClickHouseLogLevel.OFF } })
}, 180_000)

afterAll(async () => {
  await reader?.close()
  await clickhouse?.stop()
  await upstream?.close()
  if (app) rmSync(app, { recursive: true, force: true })
  console.log(`production start path: ${JSON.stringify(timings)}`)
})

/** The image's environment, its /data a fresh directory of the image user's. */
function imageEnv(extra: Record<string, string>): Record<string, string> {
  const data = mkdtempSync(join(tmpdir(), 'ccproxy-data-'))
  if (asImageUser.uid !== undefined) chownSync(data, asImageUser.uid, asImageUser.gid!)
  return {
    ...IMAGE_ENV,
    CCPROXY_DATA_DIR: data,
    CCPROXY_CLICKHOUSE_URL: clickhouseUrl,
    CCPROXY_CLICKHOUSE_USERNAME: CLIENT_AUTH.username,
    CCPROXY_CLICKHOUSE_PASSWORD: CLIENT_AUTH.password,
    CCPROXY_CLICKHOUSE_DATABASE: DATABASE,
    ...extra,
  }
}

describe('the production start path (node dist/main.js, production dependencies only)', () => {
  it('has no embedded engine and no dev dependencies installed', () => {
    const require = createRequire(join(app, 'dist/main.js'))
    for (const left of ['chdb', 'typescript', 'vitest', 'openai']) expect(() => require.resolve(left), left).toThrow()
    expect(require.resolve('@clickhouse/client')).toContain(join(app, 'node_modules'))
  })

  it('node dist/main.js migrate applies every migration, then finds the schema up to date', () => {
    const env = imageEnv({})
    const run = () => spawnSync(process.execPath, ['dist/main.js', 'migrate'], { cwd: app, env, encoding: 'utf8', ...asImageUser })
    const first = run()
    expect(first.stderr).toBe('')
    expect(first.status).toBe(0)
    expect(first.stdout).toContain(`${readMigrations().length} migration(s) applied`)
    const again = run()
    expect([again.status, again.stdout.trim()]).toEqual([0, 'schema is up to date'])
  }, 60_000)

  it(`${CMD.join(' ')}: serves an OpenAI client, records the request in ClickHouse, and exits 0 on SIGTERM`, async () => {
    const before = snapshot(app)
    const gateway = spawnGateway(CMD.slice(1), {
      cwd: app,
      ...asImageUser,
      env: imageEnv({
        CCPROXY_SERVER_HOST: '127.0.0.1',
        CCPROXY_SERVER_PORT: '0',
        CCPROXY_ADMIN_KEY: ADMIN_KEY,
        CCPROXY_CLAUDE_API_URL: upstream.url,
        CCPROXY_CLAUDE_API_KEYS: UPSTREAM_KEYS.join(','),
        CCPROXY_LOGGING_FLUSH_INTERVAL: '100ms',
      }),
    })
    try {
      const started = Date.now()
      const url = await gateway.url
      await untilReady(url)
      timings.ready_ms = Date.now() - started
      expect(gateway.output()).toContain('"clickhouse":"server"')

      const minted = await fetch(`${url}/api/token/generate`, { method: 'POST', headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' }, body: '{"name":"production"}' })
      expect(minted.status).toBe(200)
      const { token, id } = (await minted.json()) as { token: string; id: string }
      const answer = await new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hello from the image' }],
      })
      expect(answer.choices[0]!.message.content).toBe('Echo: hello from the image')
      expect(upstream.requests.at(-1)!.apiKey).toBe(UPSTREAM_KEYS[0])

      await eventually(async () => {
        const rs = await reader.query({ query: 'SELECT endpoint, model, status_code FROM request_logs WHERE token_id = {id:String}', query_params: { id }, format: 'JSONEachRow' })
        expect(await rs.json()).toEqual([{ endpoint: 'chat.completions', model: MODEL, status_code: 200 }])
      }, 10_000)
      // the web app, found from dist/ as from src/: served when it was built, else the page that says how
      const ui = await fetch(`${url}/ui/`)
      expect(ui.status).toBe(existsSync(join(app, 'web/dist/index.html')) ? 200 : 503)

      const signalled = Date.now()
      expect(await gateway.stop('SIGTERM')).toBe(0)
      timings.sigterm_exit_ms = Date.now() - signalled
      expect(gateway.output()).toContain('shutdown complete')
      // nothing was written outside its data directory
      expect(snapshot(app)).toEqual(before)
    } finally {
      await gateway.stop('SIGKILL')
    }
  }, 60_000)
})
