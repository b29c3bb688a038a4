import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { randomUUID } from 'node:crypto'
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClickHouseLogLevel, createClient as createHttpClient, type ClickHouseClient } from '@clickhouse/client'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { migrate } from '../src/warehouse/migrate.ts'
import { conversationRow, requestLogRow, type RequestRecord } from '../src/record/request-record.ts'
import { ClickHouseExporter, type ExporterOptions } from '../src/sinks/exporter.ts'
import { loadConfig } from '../src/config.ts'
import { Spool } from '../src/sinks/spool.ts'
import { CLIENT_AUTH, HTTP_CREDENTIALS } from './support/embedded-http.ts'

// Real ClickHouse throughout: the embedded engine, reached directly and through its HTTP interface
// (the same code path as a ClickHouse server), a dead port, a server that never answers, and a proxy
// that loses acknowledgements. chdb allows one data directory per process: this file opens one engine
// and gives every test a freshly migrated database of its own.

let engine: EmbeddedEngine
let httpInterface: HttpInterface
const closers: Array<() => Promise<unknown>> = []
const logged: Array<{ level: string; obj: object; msg: string }> = []
let dbSeq = 0

beforeAll(async () => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-exporter-')))
  httpInterface = await startHttpInterface(engine, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
})
afterAll(async () => {
  for (const close of closers.reverse()) await close()
  await httpInterface?.close()
  await engine?.close()
})

// Content and personal fields carry this marker; no log line may.
const MARK = 'CONTENT-MARK'

afterAll(() => {
  expect(logged.length).toBeGreaterThan(0)
  expect(JSON.stringify(logged)).not.toContain(MARK)
})

function record(i: number, withContent = i % 3 === 0): RequestRecord {
  const request_at = new Date(Date.UTC(2026, 10, 20, 9, 0, 0) + i * 1537)
  const prompt_tokens = 1200 + (i % 50)
  const completion_tokens = 300 + (i % 17)
  return {
    id: randomUUID(),
    request_at,
    response_at: new Date(request_at.getTime() + 2400 + i),
    duration_ms: 2400 + i,
    ttft_ms: i % 5 === 0 ? null : 380 + (i % 40),
    token_id: `tok_${i % 4}`,
    user_name: `user ${MARK} ${i % 4}`,
    account_id: `acct_${i % 2}`,
    mode: i % 7 === 0 ? 'web' : 'api',
    endpoint: i % 2 === 0 ? 'messages' : 'chat.completions',
    model: 'claude-sonnet-4-5',
    response_model: 'claude-sonnet-4-5-20250929',
    stream: i % 2 === 1,
    status_code: i % 10 === 9 ? 529 : 200,
    success: i % 10 !== 9,
    error_type: i % 10 === 9 ? 'overloaded_error' : '',
    error_message: i % 10 === 9 ? 'Overloaded' : '',
    stop_reason: 'end_turn',
    prompt_tokens,
    completion_tokens,
    total_tokens: prompt_tokens + completion_tokens,
    cache_creation_tokens: i % 3 === 0 ? 1024 : 0,
    cache_read_tokens: i % 3 === 1 ? 2048 : 0,
    upstream_request_id: `req_${i}`,
    retries: i % 11 === 0 ? 1 : 0,
    client_ip: '10.0.0.7',
    user_agent: `claude-cli/2.0 ${MARK}`,
    conversation_id: `conv-${i % 9}`,
    trace_id: '',
    span_id: '',
    request_params: {},
    content: withContent
      ? {
          system_prompt: `You are helpful. ${MARK}`,
          messages_json: JSON.stringify([{ role: 'user', content: `question ${i} ${MARK} "quoted"\nnew line` }]),
          prompt: `question ${i} ${MARK}`,
          completion: `answer ${i} ${MARK} — ünïcödé 🚀`,
          tool_calls: '[]',
          tool_results: '[]',
        }
      : null,
  }
}

const records = (n: number, from = 0) => Array.from({ length: n }, (_, k) => record(from + k))
const withContent = (rs: RequestRecord[]) => rs.filter((r) => r.content).length

function capture() {
  const push = (level: string) => (obj: object, msg: string) => void logged.push({ level, obj, msg })
  const start = logged.length
  return { log: { info: push('info'), warn: push('warn'), error: push('error') }, lines: () => logged.slice(start) }
}

interface Db {
  name: string
  embedded: ClickHouseClient
  http: ClickHouseClient
  counts(): Promise<{ requests: number; distinctRequests: number; conversations: number; usage: number }>
}

async function freshDatabase(): Promise<Db> {
  const database = `exporter_${++dbSeq}`
  const embedded = createEmbeddedClient(engine, { database })
  const bootstrap = createEmbeddedClient(engine, { database: 'default' })
  await migrate({ client: embedded, bootstrap, database })
  await bootstrap.close()
  const http = httpClient(httpInterface.url, database)
  closers.push(() => embedded.close())
  const one = async (sql: string) => Number((await (await embedded.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0]?.n ?? 0)
  return {
    name: database,
    embedded,
    http,
    counts: async () => ({
      requests: await one('SELECT count() AS n FROM request_logs'),
      distinctRequests: await one('SELECT uniqExact(id) AS n FROM request_logs'),
      conversations: await one('SELECT count() AS n FROM conversation_contents'),
      usage: await one('SELECT sum(request_count) AS n FROM usage_stats_daily'),
    }),
  }
}

function httpClient(url: string, database = 'default'): ClickHouseClient {
  // The client logs every failed request itself; these tests fail requests on purpose.
  const client = createHttpClient({ url, database, ...CLIENT_AUTH, log: { level: ClickHouseLogLevel.OFF } })
  closers.push(() => client.close())
  return client
}

function exporter(client: ClickHouseClient, opts: Partial<ExporterOptions> & { spoolDir: string }): ClickHouseExporter {
  const e = new ClickHouseExporter(client, {
    bufferSize: 10_000,
    batchSize: 1000,
    flushIntervalMs: 60_000,
    workers: 2,
    spoolMaxBytes: 1024 ** 3,
    replayIntervalMs: 100,
    ...opts,
  })
  closers.push(() => e.shutdown())
  return e
}

const spoolDir = () => mkdtempSync(join(tmpdir(), 'ccproxy-spool-'))

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as net.AddressInfo).port
}

/** A port where nothing listens: connections are refused. */
async function deadUrl(): Promise<string> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

/** Accepts connections and never answers: a hung server. */
async function hungUrl(): Promise<string> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined)
  })
  const port = await listening(server)
  closers.push(async () => sockets.forEach((s) => s.destroy()))
  return `http://127.0.0.1:${port}`
}

/** Forwards requests to ClickHouse and hangs up as soon as it answers: the insert is in, the client never hears. */
async function lostAckUrl(target: string): Promise<string> {
  const { port: targetPort } = new URL(target)
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), '127.0.0.1')
    client.pipe(upstream)
    upstream.once('data', () => {
      client.destroy()
      upstream.destroy()
    })
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  return `http://127.0.0.1:${await listening(server)}`
}

const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()
const rejected = (dir: string) => readdirSync(join(dir, 'rejected')).sort()

const batchOf = (rs: RequestRecord[]) => ({
  token: randomUUID(),
  request_logs: rs.map(requestLogRow),
  conversation_contents: rs.flatMap((r) => conversationRow(r) ?? []),
})

function enqueueAll(e: ClickHouseExporter, rs: RequestRecord[]): void {
  for (const r of rs) e.enqueue(r)
}

describe.each([
  ['embedded engine', (db: Db) => db.embedded],
  ['HTTP interface', (db: Db) => db.http],
])('exporter on the %s', (_path, clientOf) => {
  it('writes every record once: request_logs, conversation_contents, usage_stats_daily', async () => {
    const db = await freshDatabase()
    const e = exporter(clientOf(db), { spoolDir: spoolDir(), log: capture().log })
    const outcomes: string[] = []
    e.onBatch = (b) => outcomes.push(`${b.outcome}:${b.rows}`)
    await e.start()
    const rs = records(2500)
    enqueueAll(e, rs)
    await e.forceFlush()

    expect(await db.counts()).toEqual({ requests: 2500, distinctRequests: 2500, conversations: withContent(rs), usage: 2500 })
    const totals = await (await db.embedded.query({ query: 'SELECT sum(total_tokens) AS t, countIf(ttft_ms IS NULL) AS nulls FROM request_logs', format: 'JSONEachRow' })).json<{ t: string; nulls: string }>()
    expect(Number(totals[0]!.t)).toBe(rs.reduce((s, r) => s + r.total_tokens, 0))
    expect(Number(totals[0]!.nulls)).toBe(rs.filter((r) => r.ttft_ms === null).length)
    expect(outcomes.sort()).toEqual(['written:1000', 'written:1000', 'written:500'])
    expect(e.stats()).toMatchObject({ queueDepth: 0, rowsWritten: 2500, conversationRowsWritten: withContent(rs), rowsSpooled: 0, rowsDropped: 0, batches: 3 })
    await e.shutdown()
  })

  it('one row ClickHouse refuses costs that row only: a batch of 1,000 with one poisoned row stores 999', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const { log, lines } = capture()
    const e = exporter(clientOf(db), { spoolDir: dir, log })
    await e.start()
    const rs = records(1000)
    // A lone surrogate, written as JSON's \ud800 escape: ClickHouse refuses it (CANNOT_PARSE_ESCAPE_SEQUENCE).
    const poisoned = rs[617]!
    poisoned.model = 'claude-\ud800-bad'
    await expect(clientOf(db).insert({ table: 'request_logs', values: [requestLogRow(poisoned)], format: 'JSONEachRow' })).rejects.toMatchObject({ code: '25' })
    enqueueAll(e, rs)
    await e.forceFlush()

    expect(await db.counts()).toEqual({ requests: 999, distinctRequests: 999, conversations: withContent(rs), usage: 999 })
    const stored = await (await db.embedded.query({ query: 'SELECT countIf(id = {id:UUID}) AS n FROM request_logs', query_params: { id: poisoned.id }, format: 'JSONEachRow' })).json<{ n: string }>()
    expect(Number(stored[0]!.n)).toBe(0)
    expect(e.stats()).toMatchObject({ rowsWritten: 999, conversationRowsWritten: withContent(rs), rowsDropped: 1, conversationRowsDropped: 0, rowsSpooled: 0, queueDepth: 0 })
    const kept = rejected(dir)
    expect(kept).toHaveLength(1)
    const row = JSON.parse(readFileSync(join(dir, 'rejected', kept[0]!), 'utf8'))
    expect(row).toMatchObject({ table: 'request_logs', reason: { code: 25, type: 'CANNOT_PARSE_ESCAPE_SEQUENCE' }, row: { id: poisoned.id } })
    expect(lines().filter((l) => l.msg.includes('refused'))).toHaveLength(1)
    await e.shutdown()
  })

  it('a batch split around a refused row, replayed from the spool, writes nothing twice', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const rs = records(100)
    rs[40]!.user_name = 'user \ud800 cut'
    rs[42]!.content!.completion = 'half an emoji \ud83d'
    const batch = batchOf(rs)
    await new Spool(dir, { maxBytes: 1024 ** 3 }).append(batch)
    const e = exporter(clientOf(db), { spoolDir: dir, log: capture().log })
    await e.start()
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsReplayed: 99, rowsDropped: 1, conversationRowsDropped: 1, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    await e.shutdown()
    // The same batch again, split the same way (a run that died before deleting its segment).
    await new Spool(dir, { maxBytes: 1024 ** 3 }).append(batch)
    const again = exporter(clientOf(db), { spoolDir: dir, log: capture().log })
    await again.start()
    await vi.waitFor(() => expect(again.stats()).toMatchObject({ rowsReplayed: 99, rowsDropped: 1, conversationRowsDropped: 1, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })

    expect(await db.counts()).toEqual({ requests: 99, distinctRequests: 99, conversations: batch.conversation_contents.length - 1, usage: 99 })
  })
})

describe('batching', () => {
  it('flushes a full batch at once, long before the interval', async () => {
    const db = await freshDatabase()
    const e = exporter(db.http, { spoolDir: spoolDir(), batchSize: 50, flushIntervalMs: 60_000 })
    await e.start()
    enqueueAll(e, records(120))
    // Two full batches go; the 20 left wait for the interval (a minute away) or a flush.
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsWritten: 100, queueDepth: 20, batches: 2 }), { timeout: 10_000, interval: 20 })
    expect((await db.counts()).requests).toBe(100)
  })

  it('flushes a small batch when the interval comes', async () => {
    const db = await freshDatabase()
    const e = exporter(db.http, { spoolDir: spoolDir(), batchSize: 1000, flushIntervalMs: 100 })
    await e.start()
    enqueueAll(e, records(3))
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsWritten: 3, queueDepth: 0, batches: 1 }), { timeout: 10_000, interval: 20 })
    expect((await db.counts()).requests).toBe(3)
  })
})

describe('ClickHouse away', () => {
  it('spools while ClickHouse is down; a restart replays it in full, nothing lost, nothing doubled', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const { log, lines } = capture()
    // One worker: batches fail, and are spooled, in the order they were formed.
    const down = exporter(httpClient(await deadUrl(), 'x'), { spoolDir: dir, batchSize: 100, workers: 1, log })
    await down.start()
    const rs = records(250)
    enqueueAll(down, rs)
    await down.forceFlush()
    expect(down.stats()).toMatchObject({ rowsWritten: 0, rowsSpooled: 250, rowsDropped: 0, queueDepth: 0 })
    expect(down.stats().spoolBytes).toBeGreaterThan(0)
    expect(lines().filter((l) => l.msg.includes('unavailable'))).toHaveLength(1)
    await down.shutdown()

    const up = exporter(db.http, { spoolDir: dir, batchSize: 100 })
    const replayed: number[] = []
    up.onBatch = (b) => b.outcome === 'replayed' && replayed.push(b.rows)
    await up.start()
    await vi.waitFor(() => expect(up.stats()).toMatchObject({ rowsReplayed: 250, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    expect(replayed).toEqual([100, 100, 50])
    expect(await db.counts()).toEqual({ requests: 250, distinctRequests: 250, conversations: withContent(rs), usage: 250 })
    expect(segments(dir)).toEqual([])
  })

  it('spools when ClickHouse hangs (per-insert timeout), and shutdown does not wait past its deadline', async () => {
    const url = await hungUrl()
    const { log, lines } = capture()
    const timedOut = exporter(httpClient(url), { spoolDir: spoolDir(), insertTimeoutMs: 200, batchSize: 10, log })
    await timedOut.start()
    enqueueAll(timedOut, records(25))
    await timedOut.forceFlush()
    expect(timedOut.stats()).toMatchObject({ rowsSpooled: 25, rowsWritten: 0, queueDepth: 0 })
    expect(lines().find((l) => l.msg.includes('unavailable'))?.obj).toMatchObject({ err: 'no answer within 200 ms' })

    const stuck = exporter(httpClient(url), { spoolDir: spoolDir(), insertTimeoutMs: 60_000, shutdownTimeoutMs: 300 })
    await stuck.start()
    enqueueAll(stuck, records(5))
    const started = performance.now()
    await stuck.shutdown()
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(stuck.stats()).toMatchObject({ rowsSpooled: 5, queueDepth: 0 })
  })

  it('a lost acknowledgement and a second replay of the same batches write nothing twice', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const lossy = exporter(httpClient(await lostAckUrl(httpInterface.url), db.name), { spoolDir: dir, batchSize: 40 })
    await lossy.start()
    const rs = records(120)
    enqueueAll(lossy, rs)
    await lossy.forceFlush()
    await lossy.shutdown()
    expect(lossy.stats()).toMatchObject({ rowsSpooled: 120, rowsWritten: 0 })
    // ClickHouse did take at least the first batch's request_logs rows; the exporter never heard of it.
    const committed = (await db.counts()).requests
    expect(committed).toBeGreaterThan(0)
    const copy = mkdtempSync(join(tmpdir(), 'ccproxy-spool-copy-'))
    cpSync(dir, copy, { recursive: true })

    const up = exporter(db.http, { spoolDir: dir })
    await up.start()
    await vi.waitFor(() => expect(up.stats()).toMatchObject({ rowsReplayed: 120, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    const expected = { requests: 120, distinctRequests: 120, conversations: withContent(rs), usage: 120 }
    expect(await db.counts()).toEqual(expected)

    // The same batches, same tokens, replayed once more (a crash between insert and spool deletion).
    const again = exporter(db.embedded, { spoolDir: copy })
    await again.start()
    await vi.waitFor(() => expect(again.stats()).toMatchObject({ rowsReplayed: 120, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    expect(await db.counts()).toEqual(expected)
  })
})

describe('queue full, spool limits', () => {
  it('sends what does not fit in the queue to the spool, and replays it: nothing lost', async () => {
    const db = await freshDatabase()
    const e = exporter(db.http, { spoolDir: spoolDir(), bufferSize: 10, batchSize: 5, workers: 1 })
    await e.start()
    const rs = records(200)
    enqueueAll(e, rs)
    expect(e.stats().queueDepth).toBe(200)
    await e.forceFlush()
    const { rowsWritten, rowsSpooled } = e.stats()
    expect(rowsSpooled).toBeGreaterThanOrEqual(190)
    expect(rowsWritten + rowsSpooled).toBe(200)
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsReplayed: rowsSpooled, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    expect(await db.counts()).toEqual({ requests: 200, distinctRequests: 200, conversations: withContent(rs), usage: 200 })
  })

  it('bounds the queue in bytes too: long conversations past buffer_max_bytes go to the spool, then in', async () => {
    const db = await freshDatabase()
    const e = exporter(db.http, { spoolDir: spoolDir(), bufferMaxBytes: 1024 ** 2, workers: 1 })
    await e.start()
    // 100 conversations of ~50 KB: 5 MB, far under buffer_size's 10,000 records.
    const rs = records(100).map((r) => ({ ...r, content: { ...record(0, true).content!, completion: `${MARK} ${'x'.repeat(50_000)}` } }))
    enqueueAll(e, rs)
    expect(e.stats().peakQueueDepth).toBeLessThanOrEqual(21)
    expect(e.stats().queueBytes).toBeGreaterThan(5_000_000)
    await e.forceFlush()
    expect(e.stats().rowsSpooled).toBeGreaterThanOrEqual(79)
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsReplayed: e.stats().rowsSpooled, spoolBytes: 0, queueBytes: 0 }), { timeout: 10_000, interval: 20 })
    expect(await db.counts()).toEqual({ requests: 100, distinctRequests: 100, conversations: 100, usage: 100 })
  })

  it('closes a batch at batch_max_bytes before batch_size', async () => {
    const db = await freshDatabase()
    const e = exporter(db.embedded, { spoolDir: spoolDir(), batchMaxBytes: 256 * 1024 })
    const sizes: number[] = []
    e.onBatch = (b) => sizes.push(b.rows)
    await e.start()
    // ~21 KB each: 12 fit in 256 KiB
    enqueueAll(e, records(60).map((r) => ({ ...r, content: { ...record(0, true).content!, completion: 'y'.repeat(20_000) } })))
    await e.forceFlush()
    expect(sizes.sort((a, b) => b - a)).toEqual([12, 12, 12, 12, 12])
    expect((await db.counts()).requests).toBe(60)
  })

  it('drops what would pass spool_max_bytes: counted, logged once per incident, never the content', async () => {
    const dir = spoolDir()
    const { log, lines } = capture()
    const e = exporter(httpClient(await deadUrl()), { spoolDir: dir, batchSize: 10, spoolMaxBytes: 40_000, log })
    await e.start()
    const rs = records(300).map((r) => ({ ...r, content: record(0, true).content }))
    enqueueAll(e, rs)
    await e.forceFlush()
    const s = e.stats()
    expect(s.rowsDropped).toBeGreaterThan(0)
    expect(s.rowsSpooled).toBeGreaterThan(0)
    expect(s.rowsSpooled + s.rowsDropped).toBe(300)
    expect(s.spoolBytes).toBeLessThanOrEqual(40_000)
    await e.shutdown()
    const drops = lines().filter((l) => l.msg.includes('dropping'))
    expect(drops).toHaveLength(2)
    expect(drops[0]).toMatchObject({ level: 'error', obj: { rows: 10, reason: 'spool_max_bytes reached' } })
    expect(drops[1]).toMatchObject({ level: 'warn', obj: { rows: s.rowsDropped } })
  })

  it('drops when the disk is full (ENOSPC), and spools again once it is not', async () => {
    const dir = spoolDir()
    const { log, lines } = capture()
    const e = exporter(httpClient(await deadUrl()), { spoolDir: dir, batchSize: 10, log })
    await e.start()
    // The next segment this run writes is a disk with no space left.
    symlinkSync('/dev/full', join(dir, 'segment-000000000001.jsonl'))
    enqueueAll(e, records(10))
    await e.forceFlush()
    expect(e.stats()).toMatchObject({ rowsDropped: 10, rowsSpooled: 0, spoolBytes: 0 })
    enqueueAll(e, records(10, 10))
    await e.forceFlush()
    expect(e.stats()).toMatchObject({ rowsDropped: 10, rowsSpooled: 10 })
    expect(segments(dir)).toEqual(['segment-000000000002.jsonl'])
    const drops = lines().filter((l) => l.msg.includes('dropping'))
    expect(drops.map((l) => l.level)).toEqual(['error', 'warn'])
    expect((drops[0]!.obj as { reason: string }).reason).toMatch(/^ENOSPC/)
  })
})

describe('the request path', () => {
  it('enqueue returns at once, even with ClickHouse down and the queue overflowing', async () => {
    const e = exporter(httpClient(await deadUrl()), { spoolDir: spoolDir(), bufferSize: 10_000, batchSize: 1000 })
    await e.start()
    let settled = 0
    e.onBatch = () => settled++
    const rs = records(20_000)
    const started = performance.now()
    const returned = rs.map((r) => e.enqueue(r))
    const elapsed = performance.now() - started
    // Every call returned, with nothing to await, before any batch was tried, written or spooled.
    expect(returned.every((v) => v === undefined)).toBe(true)
    expect(settled).toBe(0)
    expect(e.stats()).toMatchObject({ queueDepth: 20_000, batches: 0 })
    console.log(`20,000 enqueues (10,000 over the buffer) in ${elapsed.toFixed(1)} ms`)
    await e.forceFlush()
    expect(e.stats()).toMatchObject({ rowsSpooled: 20_000, rowsDropped: 0, queueDepth: 0 })
  })

  it('a record that cannot be made into a row is dropped and counted; its batch goes in', async () => {
    const db = await freshDatabase()
    const { log, lines } = capture()
    const e = exporter(db.http, { spoolDir: spoolDir(), log })
    await e.start()
    const rs = records(4)
    e.enqueue(rs[0]!)
    expect(() => e.enqueue({ ...rs[1]!, request_at: new Date(Number.NaN) })).not.toThrow()
    e.enqueue(rs[2]!)
    await e.forceFlush()
    expect(e.stats()).toMatchObject({ rowsWritten: 2, rowsDropped: 1 })
    expect((await db.counts()).requests).toBe(2)
    const drops = lines().filter((l) => l.msg.includes('dropping'))
    expect(drops.map((l) => [l.level, (l.obj as { rows: number }).rows])).toEqual([['error', 1], ['warn', 1]])
    expect((drops[0]!.obj as { reason: string }).reason).toBe('a record could not be made into a row: Invalid time value')
  })

  it('shutdown flushes the queue; enqueue afterwards does not throw and the record is spooled, then replayed', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const e = exporter(db.http, { spoolDir: dir, flushIntervalMs: 60_000 })
    await e.start()
    enqueueAll(e, records(7))
    await e.shutdown()
    await e.shutdown()
    expect((await db.counts()).requests).toBe(7)

    expect(() => e.enqueue(record(7))).not.toThrow()
    await e.forceFlush()
    expect(e.stats()).toMatchObject({ rowsWritten: 7, rowsSpooled: 1, queueDepth: 0 })
    expect(segments(dir)).toHaveLength(1)

    const next = exporter(db.http, { spoolDir: dir })
    await next.start()
    await vi.waitFor(() => expect(next.stats()).toMatchObject({ rowsReplayed: 1, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    expect((await db.counts()).requests).toBe(8)
  })
})

describe('replay', () => {

  it('hands batches back oldest first, across runs, each run appending to segments of its own', async () => {
    const dir = spoolDir()
    const a = batchOf(records(2))
    const b = batchOf(records(2, 2))
    const c = batchOf(records(2, 4))
    const earlier = new Spool(dir, { maxBytes: 1024 ** 3 })
    await earlier.append(a)
    await earlier.append(b)
    const later = new Spool(dir, { maxBytes: 1024 ** 3 })
    await later.append(c)
    expect(segments(dir)).toEqual(['segment-000000000001.jsonl', 'segment-000000000002.jsonl'])

    const seen: string[] = []
    await later.replay(async (batch) => {
      seen.push(batch.token)
      return seen.length === 2 ? 'stop' : 'done'
    })
    expect(seen).toEqual([a.token, b.token])
    // Stopped on b: it stays, and the next replay starts from it.
    await later.replay(async (batch) => (seen.push(batch.token), 'done'))
    expect(seen).toEqual([a.token, b.token, b.token, c.token])
    expect(segments(dir)).toEqual([])
    expect(later.bytes).toBe(0)
    expect((await later.replay(async () => 'done'), later.hasBatches)).toBe(false)
  })

  it('spool_max_bytes 0 (the default): the spool takes what the disk takes, no row is dropped for a limit', async () => {
    expect(loadConfig({ env: {}, file: '/nonexistent' }).logging.spool_max_bytes).toBe(0)
    const dir = spoolDir()
    const spool = new Spool(dir, { maxBytes: 0 })
    for (let i = 0; i < 20; i++) expect(await spool.append(batchOf(records(50, i * 50)))).toEqual({ ok: true })
    expect(spool.bytes).toBeGreaterThan(100_000)
    let replayed = 0
    await spool.replay(async (b) => ((replayed += b.request_logs.length), 'done'))
    expect(replayed).toBe(1000)
  })

  it('skips a line torn by a crash at the end of a segment', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const spool = new Spool(dir, { maxBytes: 1024 ** 3 })
    const first = records(30)
    const second = records(20, 30)
    expect(await spool.append(batchOf(first))).toEqual({ ok: true })
    expect(await spool.append(batchOf(second))).toEqual({ ok: true })
    const [segment] = segments(dir)
    const whole = JSON.stringify(batchOf(records(5, 50)))
    appendFileSync(join(dir, segment!), whole.slice(0, whole.length / 2))

    const { log, lines } = capture()
    const e = exporter(db.http, { spoolDir: dir, log })
    await e.start()
    // the torn line's rows whose start reached the disk are lost: counted as dropped
    const torn = whole.slice(0, whole.length / 2).split('"request_at":').length - 1
    expect(torn).toBeGreaterThan(0)
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsReplayed: 50, spoolBytes: 0, rowsDropped: torn }), { timeout: 10_000, interval: 20 })
    expect(await db.counts()).toMatchObject({ requests: 50, distinctRequests: 50, usage: 50 })
    expect(rejected(dir)).toEqual([`${segment!.replace('.jsonl', '')}-line-3.corrupt`])
    expect(lines().filter((l) => l.msg.includes('does not parse'))).toHaveLength(1)
  })

  it('skips a line too long to read, without reading it into memory: its rows are counted, the next lines replay', async () => {
    const dir = spoolDir()
    const dropped: number[] = []
    const { log, lines } = capture()
    const spool = new Spool(dir, { maxBytes: 1024 ** 3, maxLineBytes: 64 * 1024, onDrop: (rows) => dropped.push(rows), log })
    const before = batchOf(records(3))
    // 7 rows, ~40 KB each: one line of ~280 KB, several reads long
    const huge = batchOf(records(7, 3).map((r) => ({ ...r, content: { ...record(0, true).content!, completion: `${MARK} ${'z'.repeat(40_000)}` } })))
    const after = batchOf(records(2, 10))
    for (const b of [before, huge, after]) expect(await spool.append(b)).toEqual({ ok: true })

    const seen: string[] = []
    await spool.replay(async (batch) => (seen.push(batch.token), 'done'))
    expect(seen).toEqual([before.token, after.token])
    expect(dropped).toEqual([7])
    expect(spool.hasBatches).toBe(false)
    expect(lines().find((l) => l.msg.includes('too long'))).toMatchObject({ level: 'warn', obj: { line: 2, rows: 7 } })
  })

  it('sets aside only the row ClickHouse refuses as invalid, writes the rest of its batch, and goes on in order', async () => {
    const db = await freshDatabase()
    const dir = spoolDir()
    const spool = new Spool(dir, { maxBytes: 1024 ** 3 })
    const bad = batchOf(records(4))
    bad.request_logs[2] = { ...bad.request_logs[2]!, id: `not-a-uuid ${MARK}` }
    const good = records(6, 4)
    await spool.append(bad)
    await spool.append(batchOf(good))

    const { log, lines } = capture()
    const e = exporter(db.http, { spoolDir: dir, log })
    await e.start()
    await vi.waitFor(() => expect(e.stats()).toMatchObject({ rowsReplayed: 9, rowsDropped: 1, spoolBytes: 0 }), { timeout: 10_000, interval: 20 })
    // The bad batch's conversations all go in (the refused row was in request_logs only).
    expect(await db.counts()).toMatchObject({ requests: 9, distinctRequests: 9, usage: 9, conversations: bad.conversation_contents.length + withContent(good) })
    const [kept, ...others] = rejected(dir)
    expect(others).toEqual([])
    expect(kept).toContain(bad.token)
    expect(JSON.parse(readFileSync(join(dir, 'rejected', kept!), 'utf8'))).toEqual({
      token: `${bad.token}:request_logs/1/0`,
      table: 'request_logs',
      reason: { code: 376, type: 'CANNOT_PARSE_UUID', column: 'id', row: 1 },
      row: bad.request_logs[2],
    })
    const refusal = lines().find((l) => l.msg.includes('refused'))
    expect(refusal).toMatchObject({ level: 'error', obj: { batch: bad.token, table: 'request_logs', code: 376, type: 'CANNOT_PARSE_UUID', column: 'id' } })
  })
})
