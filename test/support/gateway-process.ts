import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HTTP_CREDENTIALS } from './embedded-http.ts'

/**
 * A gateway as its own process, started the way a user or a container starts it (`node … start`), read from
 * its JSON log lines. The node process is the gateway: a signal sent to it reaches the gateway itself.
 */
export interface GatewayProcess {
  child: ChildProcess
  /** its HTTP address, once it logs that it listens */
  url: Promise<string>
  /** the embedded engine's HTTP interface, once it logs it (embedded mode with a port) */
  clickhouseUrl: Promise<string>
  /** everything it printed so far */
  output(): string
  /** its exit code (null when a signal killed it) */
  exited: Promise<number | null>
  /** sends `signal` and waits for the exit */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

// A test that fails or times out half-way must not leave gateways running: whatever is still alive when the
// test process exits is killed with it.
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** The command line `npm start` runs, from the repository root. */
export const TSX_GATEWAY = ['--import', 'tsx', 'src/main.ts'] as const

export function spawnGateway(
  args: readonly string[],
  opts: { env: Record<string, string>; cwd?: string; uid?: number; gid?: number; startTimeoutMs?: number },
): GatewayProcess {
  const child = spawn(process.execPath, [...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  let output = ''
  const waiting: Array<{ msg: string; resolve: (url: string) => void }> = []
  const onLine = (line: string) => {
    let entry: { msg?: string; url?: string }
    try {
      entry = JSON.parse(line)
    } catch {
      return
    }
    for (const w of waiting) if (entry.msg === w.msg && entry.url) w.resolve(entry.url)
  }
  let pending = ''
  child.stdout!.on('data', (d: Buffer) => {
    output += d
    pending += d
    const lines = pending.split('\n')
    pending = lines.pop()!
    for (const line of lines) onLine(line)
  })
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const logged = (msg: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" within ${opts.startTimeoutMs ?? 60_000} ms:\n${output}`)), opts.startTimeoutMs ?? 60_000)
      timer.unref()
      waiting.push({ msg, resolve: (url) => (clearTimeout(timer), resolve(url)) })
      void exited.then((code) => (clearTimeout(timer), reject(new Error(`exited ${code} before "${msg}":\n${output}`))))
    })
  const url = logged('ccproxy is listening')
  const clickhouseUrl = logged('ClickHouse HTTP interface (embedded engine)')
  // a caller that waits for only one of them must not see the other's rejection as unhandled
  url.catch(() => {})
  clickhouseUrl.catch(() => {})
  return {
    child,
    url,
    clickhouseUrl,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Polls `GET url/ready` until it answers 200. */
export async function untilReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const status = await fetch(`${url}/ready`).then((r) => r.status, () => 0)
    if (status === 200) return
    if (Date.now() > deadline) throw new Error(`${url}/ready still answers ${status} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A port free a moment ago (clickhouse.embedded.http_port takes no 0: 0 turns the interface off). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/**
 * The environment of a ccproxy that serves as "the ClickHouse server" of others: its embedded engine's HTTP
 * interface writable, with the test credentials, on a free port.
 */
export async function clickhouseServerEnv(dataDirPrefix: string, adminKey: string): Promise<Record<string, string>> {
  return {
    CCPROXY_DATA_DIR: mkdtempSync(join(tmpdir(), dataDirPrefix)),
    CCPROXY_SERVER_HOST: '127.0.0.1',
    CCPROXY_SERVER_PORT: '0',
    CCPROXY_ADMIN_KEY: adminKey,
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: String(await freePort()),
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_READONLY: 'false',
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_USER: HTTP_CREDENTIALS.user,
    CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PASSWORD: HTTP_CREDENTIALS.password,
  }
}
