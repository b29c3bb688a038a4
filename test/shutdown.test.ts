import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI, { type ClientOptions } from 'openai'
import { Agent } from 'undici'
import type { ClickHouseClient } from '@clickhouse/client'
import { startMockAnthropic, type MockAnthropic } from './support/mock-anthropic.ts'
import { startTestGateway, eventually } from './support/gateway.ts'
import { runSteps } from '../src/shutdown.ts'
import { interruptible } from '../src/sinks/interruptible.ts'

const MODEL = 'claude-sonnet-4-6'
const ADMIN = 'shutdown-test-admin-key-0000'
const WORDS = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ')

/** The embedded ClickHouse HTTP interface is off on port 0: a free one is picked here. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The gateway as `npm start` runs it: node itself, so a signal reaches it directly. */
async function startProcess(upstream: MockAnthropic, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-shutdown-'))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
    env: {
      ...process.env,
      CCPROXY_DATA_DIR: dataDir,
      CCPROXY_SERVER_HOST: '127.0.0.1',
      CCPROXY_SERVER_PORT: '0',
      CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: String(await freePort()),
      CCPROXY_ADMIN_KEY: ADMIN,
      CCPROXY_CLAUDE_API_URL: upstream.url,
      CCPROXY_CLAUDE_API_KEYS: 'sk-ant-api03-shutdown-test-key-0000',
      CCPROXY_LOGGING_FLUSH_INTERVAL: '10s', // records are still queued when the signal arrives
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  let exitedAt = 0
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitedAt = Date.now()
      resolve(code)
    }),
  )
  await eventually(() => expect(output).toMatch(/"url":"http:\/\/127\.0\.0\.1:\d+","clickhouse"/), 30_000)
  const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)","clickhouse"/.exec(output)![1]!
  const clickhouseHttp = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"ClickHouse HTTP interface/.exec(output)?.[1]
  const minted = await fetch(`${url}/api/token/generate`, { method: 'POST', headers: { 'x-admin-key': ADMIN, 'content-type': 'application/json' }, body: '{"name":"shutdown"}' })
  const { token, id } = (await minted.json()) as { token: string; id: string }
  return {
    child,
    url,
    clickhouseHttp,
    dataDir,
    token,
    tokenId: id,
    output: () => output,
    exited,
    exitedAt: () => exitedAt,
    /** resolves with the exit code, or with 'still running' once `ms` have passed */
    exitWithin: (ms: number) => Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]),
    kill: () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'),
  }
}

/** Rows of the token in request_logs, on the same data directory opened again (what was spooled replays). */
async function rowsAfterRestart(dataDir: string, tokenId: string, expected: number): Promise<void> {
  const t = await startTestGateway({ data_dir: dataDir, clickhouse: { database: 'ccproxy', embedded: { path: join(dataDir, 'clickhouse'), http_port: 0 } } })
  try {
    await eventually(async () => {
      const [row] = await t.rows<{ n: string }>('SELECT count() AS n FROM request_logs WHERE token_id = {id:String}', { id: tokenId })
      expect(Number(row!.n)).toBe(expected)
    }, 15_000)
  } finally {
    await t.close()
  }
}

describe('shutdown fits a grace period', () => {
  it('SIGTERM with 100 requests in flight on keep-alive connections: all answered, all recorded, the process gone within 2 s of the last answer', async () => {
    const upstream = await startMockAnthropic()
    const gw = await startProcess(upstream)
    try {
      const N = 100
      for (let i = 0; i < N; i++) upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: WORDS(20) }], chunkDelayMs: 50 })
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 })
      let lastAnswer = 0
      const requests = Array.from({ length: N }, async () => {
        const stream = await client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'x' }] })
        let text = ''
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
        lastAnswer = Math.max(lastAnswer, Date.now())
        return text
      })
      await eventually(() => expect(upstream.requests.length).toBe(N), 15_000)
      gw.child.kill('SIGTERM')
      const answers = await Promise.allSettled(requests)
      expect(answers.filter((a) => a.status === 'fulfilled' && a.value === WORDS(20))).toHaveLength(N)
      // the undici pool behind the SDK keeps every one of those connections open
      expect(await gw.exitWithin(2000)).toBe(0)
      expect(gw.exitedAt() - lastAnswer).toBeLessThan(2000)
      expect(gw.output()).toContain('shutdown complete')
      await rowsAfterRestart(gw.dataDir, gw.tokenId, N)
    } finally {
      gw.kill()
      await upstream.close()
    }
  }, 120_000)

  it('SIGTERM with only idle keep-alive clients exits 0 in under 2 s', async () => {
    const upstream = await startMockAnthropic()
    const gw = await startProcess(upstream)
    try {
      // a client that keeps idle connections for minutes (as Go's and Java's do), not undici's default 4 s
      const dispatcher = new Agent({ keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 })
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0, fetchOptions: { dispatcher } as unknown as ClientOptions['fetchOptions'] })
      await Promise.all(Array.from({ length: 5 }, () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })))
      await Promise.all(Array.from({ length: 3 }, () => fetch(`${gw.clickhouseHttp}/ping`).then((r) => r.text())))
      const signalled = Date.now()
      gw.child.kill('SIGTERM')
      expect(await gw.exitWithin(2000)).toBe(0)
      expect(gw.exitedAt() - signalled).toBeLessThan(2000)
      await rowsAfterRestart(gw.dataDir, gw.tokenId, 5)
    } finally {
      gw.kill()
      await upstream.close()
    }
  }, 90_000)

  it('a second signal cuts the streams, spools what is queued and exits at once (143)', async () => {
    const upstream = await startMockAnthropic()
    const gw = await startProcess(upstream)
    try {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 })
      // answered, their records queued (flush_interval 10s)
      await Promise.all(Array.from({ length: 10 }, () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })))
      // streams that would run ~60 s, beyond server.shutdown_timeout (30 s)
      for (let i = 0; i < 5; i++) upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: WORDS(120) }], chunkDelayMs: 500 })
      const streams = Array.from({ length: 5 }, async () => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'x' }] }),
        })
        await res.text()
      })
      const cut = Promise.allSettled(streams)
      await eventually(() => expect(upstream.requests.length).toBe(15), 10_000)
      gw.child.kill('SIGTERM')
      await eventually(() => expect(gw.output()).toContain('shutting down'), 5000)
      await new Promise((r) => setTimeout(r, 300))
      const signalled = Date.now()
      gw.child.kill('SIGTERM')
      expect(await gw.exitWithin(2000)).toBe(143)
      expect(gw.exitedAt() - signalled).toBeLessThan(2000)
      expect((await cut).every((s) => s.status === 'rejected')).toBe(true)
      // the 10 answered and the 5 cut: every one has its row
      await rowsAfterRestart(gw.dataDir, gw.tokenId, 15)
    } finally {
      gw.kill()
      await upstream.close()
    }
  }, 90_000)

  it('a step that hangs (a client holding the embedded HTTP interface) does not hold the exit past shutdown_grace', async () => {
    const upstream = await startMockAnthropic()
    const gw = await startProcess(upstream, { CCPROXY_SERVER_SHUTDOWN_GRACE: '2s' })
    try {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 })
      await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
      // half a request: the interface's close() waits for it (up to its 120 s request timeout)
      const { port } = new URL(gw.clickhouseHttp!)
      const socket = connect(Number(port), '127.0.0.1')
      await new Promise<void>((resolve) => socket.once('connect', resolve))
      socket.on('error', () => {})
      socket.write('GET /?query=SELECT%201 HTTP/1.1\r\nHost: 127.0.0.1\r\n')
      await new Promise((r) => setTimeout(r, 200))
      const signalled = Date.now()
      gw.child.kill('SIGTERM')
      // exit 1: a step overran, and the log says which
      expect(await gw.exitWithin(4000)).toBe(1)
      expect(gw.exitedAt() - signalled).toBeLessThan(4000)
      expect(gw.output()).toContain('close the ClickHouse HTTP interface overran')
      socket.destroy()
      // the rows went in before the step that hung
      await rowsAfterRestart(gw.dataDir, gw.tokenId, 1)
    } finally {
      gw.kill()
      await upstream.close()
    }
  }, 90_000)
})

describe('runSteps', () => {
  it('runs steps in order; a failing step does not stop the next; a hanging one is left at the deadline and the rest skipped', async () => {
    const ran: string[] = []
    const started = performance.now()
    const outcomes = await runSteps(
      [
        { name: 'a', run: async () => void ran.push('a') },
        { name: 'b', run: async () => { ran.push('b'); throw new Error('b broke') } },
        { name: 'c', run: () => { ran.push('c'); return new Promise(() => {}) } },
        { name: 'd', run: async () => void ran.push('d') },
      ],
      started + 200,
    )
    expect(performance.now() - started).toBeLessThan(400)
    expect(ran).toEqual(['a', 'b', 'c'])
    expect(outcomes.map((o) => `${o.name} ${o.outcome}`)).toEqual(['a done', 'b failed', 'c overran', 'd skipped'])
  })
})

describe('interruptible', () => {
  it('an insert under way gives up when the signal fires, and later ones fail at once; other calls are the client\'s', async () => {
    let seen: AbortSignal | undefined
    const client = {
      insert: (params: { abort_signal?: AbortSignal }) => {
        seen = params.abort_signal
        return new Promise(() => {}) // a ClickHouse that never answers
      },
      ping: async function (this: unknown) {
        return this === client
      },
    }
    const cutoff = new AbortController()
    const wrapped = interruptible(client as unknown as ClickHouseClient, cutoff.signal)
    const own = new AbortController()
    const pending = wrapped.insert({ table: 't', values: [], abort_signal: own.signal })
    cutoff.abort(new Error('second signal'))
    await expect(pending).rejects.toThrow('second signal')
    expect(seen?.aborted).toBe(true)
    await expect(wrapped.insert({ table: 't', values: [] })).rejects.toThrow('second signal')
    expect(await (wrapped as unknown as { ping(): Promise<boolean> }).ping()).toBe(true)
  })
})
