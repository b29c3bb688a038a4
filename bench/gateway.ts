// Start-up of the bench's two children — the mock upstream and the real gateway process — and the few
// admin calls the bench makes.

import { join } from 'node:path'
import { loadConfig } from '../src/config.ts'
import type { Config } from '../src/config.ts'
import type { ExporterStats } from '../src/sinks/exporter.ts'
import { deepestProcess, freePort, startChild, tempDir, waitForHttp, waitForOutput, type Child } from './processes.ts'

export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef'
export const UPSTREAM_KEY = 'sk-ant-api03-bench-upstream-key-000000'

export interface Mock {
  url: string
  child: Child
}

/** bench/mock-upstream.ts in its own process; streamed replies wait `chunkDelayMs` between events. */
export async function startMock(chunkDelayMs: number): Promise<Mock> {
  const child = startChild('mock upstream', join('node_modules', '.bin', 'tsx'), ['bench/mock-upstream.ts'], {
    ...process.env,
    BENCH_MOCK_KEYS: UPSTREAM_KEY,
    BENCH_MOCK_CHUNK_DELAY_MS: String(chunkDelayMs),
  })
  const m = await waitForOutput(child, /MOCK_URL=(http:\/\/127\.0\.0\.1:\d+)/, 20_000)
  return { url: m[1]!, child }
}

export interface Gateway {
  url: string
  /** ClickHouse's HTTP interface over the gateway's embedded engine (writable for the bench) */
  clickhouseUrl: string
  child: Child
  /** the node process that runs the gateway (tsx's CLI is a wrapper around it) */
  pid: number
  /** the configuration the gateway runs with, read by the gateway's own loader from the same env */
  config: Config
  dataDir: string
}

/** The bench's password for the gateway's embedded HTTP interface (user: the default, ccproxy). */
export const CLICKHOUSE_PASSWORD = 'bench-clickhouse-password'

/** The real gateway (`node --import tsx src/main.ts start`, as `npm start`) on a fresh data dir with the embedded engine. */
export async function startGateway(upstreamUrl: string): Promise<Gateway> {
  const dataDir = tempDir('ccproxy-bench-')
  const [port, chPort] = [await freePort(), await freePort()]
  // The bench's own settings only: nothing CCPROXY_* leaks in from the caller's shell.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CCPROXY_')))
  const ccproxyEnv = {
    CCPROXY_DATA_DIR: dataDir,
    CCPROXY_SERVER_HOST: '127.0.0.1',
    // At log level warn the gateway does not print its "listening" line (it is info), so the bench picks
    // the port itself instead of CCPROXY_SERVER_PORT=0, and waits for /health.
    CCPROXY_SERVER_PORT: String(port),
    CCPROXY_ADMIN_KEY: ADMIN_KEY,
    CCPROXY_CLAUDE_API_URL: upstreamUrl,
    CCPROXY_CLAUDE_API_KEYS: UPSTREAM_KEY,
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: String(chPort),
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_READONLY: 'false',
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PASSWORD: CLICKHOUSE_PASSWORD,
    CCPROXY_LOG_LEVEL: 'warn',
  }
  const child = startChild('gateway', process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { ...inherited, ...ccproxyEnv })
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(child, `${url}/ready`, 60_000)
  return {
    url,
    clickhouseUrl: `http://127.0.0.1:${chPort}`,
    child,
    pid: deepestProcess(child.proc.pid!, 'src/main.ts'),
    config: loadConfig({ file: 'config.yaml', env: ccproxyEnv }),
    dataDir,
  }
}

/** An admin call; throws on anything but 2xx. */
export async function admin<T>(gw: Gateway, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(gw.url + path, {
    method,
    headers: { 'x-admin-key': ADMIN_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`)
  return JSON.parse(text) as T
}

export async function mintToken(gw: Gateway, name: string): Promise<{ token: string; id: string }> {
  return admin(gw, 'POST', '/api/token/generate', { name, mode: 'api', expires_in: '1d', enable_conversation_logging: true })
}

export interface Pipeline {
  exporter: ExporterStats
  rss_bytes: number
}

export const pipeline = (gw: Gateway): Promise<Pipeline> => admin<Pipeline>(gw, 'GET', '/api/stats/pipeline')

/** Waits until the exporter holds nothing in memory (every record written, spooled or dropped). */
export async function drained(gw: Gateway, timeoutMs = 30_000): Promise<Pipeline> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const p = await pipeline(gw)
    if (p.exporter.queueDepth === 0 || Date.now() > deadline) return p
    await new Promise((r) => setTimeout(r, 50))
  }
}
