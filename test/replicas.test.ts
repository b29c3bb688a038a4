import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import OpenAI, { APIConnectionError, APIError } from 'openai'
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client'
import { readMigrations } from '../src/warehouse/migrate.ts'
import { startMockAnthropic, type MockAnthropic } from './support/mock-anthropic.ts'
import { ADMIN_KEY, UPSTREAM_KEYS, eventually } from './support/gateway.ts'
import { CLIENT_AUTH } from './support/embedded-http.ts'
import { TSX_GATEWAY, spawnGateway, untilReady, type GatewayProcess, clickhouseServerEnv } from './support/gateway-process.ts'

// Several gateways in server mode, each its own process, share one ClickHouse: here the embedded engine of
// another ccproxy process behind its writable HTTP interface. What one replica changes (tokens, settings),
// the others see within auth.token_cache_ttl; what they record, every one of them reads back the same; and
// replicas restarted one at a time under traffic lose and double no request.

const TTL_MS = 1000
const SLACK_MS = 1500 // a refresh is a ClickHouse round trip; this machine's 2 cores are shared with other tests
const DATABASE = 'replicas'
const MODEL = 'claude-sonnet-4-5-20250929'
const JWT_SECRET = 'replicas-test-jwt-secret-0123456789abcdef'
const figures: Record<string, unknown> = {}

let upstream: MockAnthropic
let server: GatewayProcess
let clickhouseUrl: string
let reader: ClickHouseClient

interface Replica {
  name: string
  process: GatewayProcess
  url: string
}
const replicas: Replica[] = []

/** A replica in server mode on the shared ClickHouse, with a data directory of its own (an emptyDir). */
function spawnReplica(): GatewayProcess {
  return spawnGateway([...TSX_GATEWAY, 'start'], {
    env: {
      CCPROXY_DATA_DIR: mkdtempSync(join(tmpdir(), 'ccproxy-replica-')),
      CCPROXY_SERVER_HOST: '127.0.0.1',
      CCPROXY_SERVER_PORT: '0',
      CCPROXY_ADMIN_KEY: ADMIN_KEY,
      CCPROXY_JWT_SECRET: JWT_SECRET,
      CCPROXY_CLAUDE_API_URL: upstream.url,
      CCPROXY_CLAUDE_API_KEYS: UPSTREAM_KEYS.join(','),
      CCPROXY_CLICKHOUSE_URL: clickhouseUrl,
      CCPROXY_CLICKHOUSE_USERNAME: CLIENT_AUTH.username,
      CCPROXY_CLICKHOUSE_PASSWORD: CLIENT_AUTH.password,
      CCPROXY_CLICKHOUSE_DATABASE: DATABASE,
      CCPROXY_AUTH_TOKEN_CACHE_TTL: `${TTL_MS}ms`,
      // the final writes of a shutdown get room on a machine whose cores other tests share
      CCPROXY_SERVER_SHUTDOWN_GRACE: '30s',
    },
  })
}

async function admin(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: { 'x-admin-key': ADMIN_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return JSON.parse(text)
}

const chat = (url: string, token: string, user: string) =>
  new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create({ model: MODEL, user, messages: [{ role: 'user', content: `hi from ${user}` }] })

/** The status a chat request gets (0: no HTTP answer). */
const statusOf = (url: string, token: string, user: string) =>
  chat(url, token, user).then(
    () => 200,
    (err: unknown) => (err instanceof APIError && err.status ? err.status : 0),
  )

/** What a stopped gateway's exporter says it did, from its last log line about it. */
function exporterStats(log: string): { written: number; spooled: number; left_in_spool_bytes: number } | undefined {
  const line = log.split('\n').filter((l) => l.includes('"msg":"exporter: stopped"')).at(-1)
  if (!line) return undefined
  const { rowsWritten, rowsSpooled, spoolBytes } = JSON.parse(line) as { rowsWritten: number; rowsSpooled: number; spoolBytes: number }
  return { written: rowsWritten, spooled: rowsSpooled, left_in_spool_bytes: spoolBytes }
}

async function rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await reader.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>()
}

beforeAll(async () => {
  upstream = await startMockAnthropic()
  server = spawnGateway([...TSX_GATEWAY, 'start'], {
    env: await clickhouseServerEnv('ccproxy-clickhouse-server-', ADMIN_KEY),
  })
  clickhouseUrl = await server.clickhouseUrl
  reader = createClient({ url: clickhouseUrl, database: DATABASE, ...CLIENT_AUTH, log: { level: ClickHouseLogLevel.OFF } })
}, 60_000)

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.process.stop()))
  await reader?.close()
  await server?.stop()
  await upstream?.close()
  console.log(`replicas: ${JSON.stringify(figures)}`)
})

describe('three gateway replicas on one ClickHouse', () => {
  it('started at the same moment on an empty database, they apply each migration once between them', async () => {
    for (const name of ['a', 'b', 'c']) replicas.push({ name, process: spawnReplica(), url: '' })
    for (const r of replicas) {
      r.url = await r.process.url
      await untilReady(r.url)
    }
    const ledger = await rows<{ version: number; n: string }>('SELECT version, count() AS n FROM schema_migrations GROUP BY version ORDER BY version')
    expect(ledger).toEqual(readMigrations().map((m) => ({ version: m.version, n: '1' })))
    const applied = replicas.flatMap((r) => [...r.process.output().matchAll(/"msg":"applied migration (\w+)"/g)].map((m) => m[1]))
    expect(applied.sort()).toEqual(readMigrations().map((m) => m.name))
    figures.migrations = Object.fromEntries(replicas.map((r) => [r.name, { applied: (r.process.output().match(/applied migration/g) ?? []).length, waited: r.process.output().includes('which is migrating this database') }]))
  }, 120_000)

  it('a token minted on one replica works on the others at once', async () => {
    const [a, b, c] = replicas
    const { token } = await admin(a!.url, 'POST', '/api/token/generate', { name: 'fresh' })
    expect(await Promise.all([b, c].map((r) => statusOf(r!.url, token, 'at-once')))).toEqual([200, 200])
  })

  it(`a revocation on one replica is enforced by all within auth.token_cache_ttl (${TTL_MS} ms)`, async () => {
    const [a, b, c] = replicas
    const { token, id } = await admin(a!.url, 'POST', '/api/token/generate', { name: 'to-revoke' })
    // every replica knows the token and has it in its cache
    expect(await Promise.all(replicas.map((r) => statusOf(r.url, token, 'before')))).toEqual([200, 200, 200])
    await admin(a!.url, 'POST', '/api/token/revoke', { id })
    const revokedAt = Date.now()
    expect(await statusOf(a!.url, token, 'after')).toBe(401)
    const delays = await Promise.all(
      [b!, c!].map(async (r) => {
        for (;;) {
          const status = await statusOf(r.url, token, 'after')
          if (status === 401) return Date.now() - revokedAt
          expect(status).toBe(200)
          if (Date.now() - revokedAt > TTL_MS + SLACK_MS) throw new Error(`replica ${r.name} still accepts the revoked token`)
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }),
    )
    figures.revocation_seen_after_ms = Object.fromEntries([b!, c!].map((r, i) => [r.name, delays[i]]))
    for (const d of delays) expect(d).toBeLessThanOrEqual(TTL_MS + SLACK_MS)
  }, 30_000)

  it('a change of conversation logging on one replica is applied by all within auth.token_cache_ttl', async () => {
    const [a, b, c] = replicas
    const { token, id } = await admin(a!.url, 'POST', '/api/token/generate', { name: 'settings' })
    for (const r of replicas) expect(await statusOf(r.url, token, `${r.name}-off`)).toBe(200)
    await admin(a!.url, 'PUT', `/api/token/${id}/settings`, { enable_conversation_logging: true })
    const changedAt = Date.now()
    // each replica is asked every 50 ms; content is stored from the first request it sees the change for
    const sent = new Map<string, number>()
    await Promise.all(
      [a!, b!, c!].map(async (r) => {
        for (let i = 0; Date.now() - changedAt <= TTL_MS + SLACK_MS; i++) {
          const user = `${r.name}-${i}`
          sent.set(user, Date.now() - changedAt)
          expect(await statusOf(r.url, token, user)).toBe(200)
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }),
    )
    // once every request is recorded (3 before the change), the ones with content
    const recorded = async () => Number((await rows<{ n: string }>('SELECT count() AS n FROM request_logs WHERE token_id = {id:String}', { id }))[0]!.n)
    await eventually(async () => expect(await recorded()).toBe(3 + sent.size), 15_000)
    const stored = await rows<{ conversation_id: string }>('SELECT conversation_id FROM request_logs WHERE token_id = {id:String} AND has_content', { id })
    const withContent = new Set(stored.map((r) => r.conversation_id))
    const seenAfter: Record<string, number> = {}
    for (const r of replicas) {
      const asked = [...sent.keys()].filter((u) => u.startsWith(`${r.name}-`) && !u.endsWith('-off'))
      const first = asked.findIndex((u) => withContent.has(u))
      expect(first, `replica ${r.name} never stored content`).toBeGreaterThanOrEqual(0)
      // from then on, every request of that replica stored its content
      expect(asked.slice(first).filter((u) => !withContent.has(u))).toEqual([])
      seenAfter[r.name] = sent.get(asked[first]!)!
    }
    // and none from before the change
    expect([...withContent].filter((u) => u.endsWith('-off'))).toEqual([])
    figures.settings_seen_after_ms = seenAfter
    expect(seenAfter.a).toBeLessThan(200) // the replica that made the change applies it at once
    for (const ms of Object.values(seenAfter)) expect(ms).toBeLessThanOrEqual(TTL_MS + SLACK_MS)
  }, 30_000)

  it('a rolling restart under steady traffic (SIGTERM one at a time, clients retrying elsewhere) loses no request and doubles none', async () => {
    const { token, id } = await admin(replicas[0]!.url, 'POST', '/api/token/generate', { name: 'rolling', enable_conversation_logging: true })
    const live = replicas.map((r) => r.url)
    const answered = new Map<string, number[]>() // request → the statuses gateways answered its attempts with
    let attemptsWithoutAnswer = 0
    let next = 0
    let stopping = false
    const worker = async () => {
      while (!stopping) {
        const user = `rolling-${next++}`
        const statuses: number[] = []
        answered.set(user, statuses)
        for (let attempt = 0; ; attempt++) {
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 * attempt)))
          const url = live[(next + attempt) % live.length]!
          try {
            await chat(url, token, user)
            statuses.push(200)
            // steady, not flooding: each client waits a little between requests
            await new Promise((resolve) => setTimeout(resolve, 50))
            break
          } catch (err) {
            if (err instanceof APIError && err.status) statuses.push(err.status)
            else if (err instanceof APIConnectionError) attemptsWithoutAnswer++
            else throw err
            // a closing replica may answer 503 (or not at all): try the next; any other answer is a failure
            if (err instanceof APIError && err.status && err.status !== 503) throw err
            if (attempt >= 50) throw new Error(`${user}: no replica answered 50 attempts: ${String(err)}`)
          }
        }
      }
    }
    const workers = Array.from({ length: 4 }, worker)
    const started = Date.now()
    const restarts: Array<{ replica: string; exit: number | null; down_ms: number; exporter?: ReturnType<typeof exporterStats> }> = []
    const shutdowns: string[] = [] // the log of each stopped replica, shown if it did not exit 0
    await new Promise((resolve) => setTimeout(resolve, 1000))
    for (const r of replicas) {
      // SIGTERM while clients still send to it: it answers what it has, closes, and they go elsewhere
      const stoppedAt = Date.now()
      const exit = await r.process.stop('SIGTERM')
      shutdowns.push(r.process.output())
      live.splice(live.indexOf(r.url), 1)
      r.process = spawnReplica()
      r.url = await r.process.url
      await untilReady(r.url)
      live.push(r.url)
      restarts.push({ replica: r.name, exit, down_ms: Date.now() - stoppedAt, exporter: exporterStats(shutdowns.at(-1)!) })
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    stopping = true
    await Promise.all(workers)
    const requests = answered.size
    figures.rolling = { requests, seconds: (Date.now() - started) / 1000, restarts, attempts_without_answer: attemptsWithoutAnswer, answered_not_200: [...answered.values()].flat().filter((s) => s !== 200).length }
    restarts.forEach(({ exit }, i) => expect(exit, shutdowns[i]!.split('\n').slice(-5).join('\n')).toBe(0))
    // A replaced pod comes back with an empty /data (an emptyDir): what a replica left in its spool (ClickHouse
    // too slow or away while it stopped) would never be replayed. Said here, before the rows come up short.
    for (const { replica, exporter } of restarts) expect(exporter?.left_in_spool_bytes, `replica ${replica} stopped with rows in its spool`).toBe(0)
    expect(requests).toBeGreaterThan(50)

    // every request answered once with a 200; every attempt a gateway answered is one row, none more
    const recorded = async () =>
      rows<{ conversation_id: string; ok: string; n: string }>(
        'SELECT conversation_id, countIf(status_code = 200) AS ok, count() AS n FROM request_logs WHERE token_id = {id:String} GROUP BY conversation_id',
        { id },
      )
    await eventually(async () => expect((await recorded()).length).toBe(requests), 30_000)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const byRequest = new Map((await recorded()).map((r) => [r.conversation_id, { ok: Number(r.ok), n: Number(r.n) }]))
    for (const [user, statuses] of answered) {
      expect(byRequest.get(user), user).toEqual({ ok: 1, n: statuses.length })
    }
    expect([...byRequest.keys()].filter((u) => !answered.has(u))).toEqual([])
  }, 240_000) // about 30 s on an idle 2-core machine; restarts take longer when other tests share the cores

  it('stats and logs read the same from every replica', async () => {
    const count = async () => Number((await rows<{ n: string }>('SELECT count() AS n FROM request_logs'))[0]!.n)
    // every row written: the count holds still for a second
    let total = -1
    for (let now = await count(); now !== total; now = await count()) {
      total = now
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const today = new Date().toISOString().slice(0, 10)
    const paths = [
      `/api/stats/overview?from_date=${today}&to_date=${today}`,
      `/api/stats/usage?from_date=${today}&to_date=${today}`,
      '/api/stats/realtime',
      '/api/stats/top/tokens?days=1',
      '/api/stats/top/models?days=1',
      '/api/logs/requests?limit=100',
    ]
    for (const path of paths) {
      const answers = await Promise.all(replicas.map((r) => admin(r.url, 'GET', path)))
      for (const other of answers.slice(1)) expect(other, path).toEqual(answers[0])
    }
    const overview = await admin(replicas[0]!.url, 'GET', paths[0]!)
    expect(overview.total_requests).toBe(total)
    expect((await admin(replicas[0]!.url, 'GET', '/api/logs/requests?limit=100')).total).toBe(total)
    figures.rows_read_alike = total
  }, 60_000)
})
