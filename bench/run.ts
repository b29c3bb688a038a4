// npm run bench — ccproxy's speed figures, each printed next to its target (met / NOT MET). No assertions.
//
// Children: the mock Anthropic API (bench/mock-upstream.ts) and the real gateway (`node --import tsx src/main.ts start`)
// on a fresh temp data dir with the embedded ClickHouse engine. All traffic goes to 127.0.0.1; the load
// generator is this process and shares the machine's cores with both children.
//
// BENCH_QUICK=1 shortens every stage and shrinks the dataset tenfold (a trial run, not the figures).

import { cpus } from 'node:os'
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'
import { DATASET, generateDataset, type Dataset } from './dataset.ts'
import { ADMIN_KEY, UPSTREAM_KEY, drained, mintToken, pipeline, startGateway, startMock, type Gateway } from './gateway.ts'
import { alternating, closedLoop, concurrentStreams, type PairedLatency, type Target, type Tally } from './load.ts'
import { cleanup, cleanupOnExit, memoryOf, sleep } from './processes.ts'
import { mergesSettled, timeAdminQueries, storage, type QueryCase } from './queries.ts'
import { bytes, heading, int, line, mib, ms, note, pad, printSummary, record, secs, width } from './report.ts'
import { rowVisibility } from './visibility.ts'
import { analyticLoad } from './background.ts'
import { steadyLoad } from './steady.ts'

const QUICK = process.env.BENCH_QUICK === '1'
const RUN = {
  latency: { warmup: QUICK ? 50 : 200, pairs: QUICK ? 300 : 2000 },
  throughput: { connections: 200, warmupMs: QUICK ? 1000 : 2000, durationMs: QUICK ? 3000 : 10_000 },
  visibility: { samples: QUICK ? 60 : 300, rps: 30, pollEveryMs: 5, timeoutMs: 10_000 },
  streams: { count: QUICK ? 300 : 1000, chunkDelayMs: 10 },
  dataset: { requests: QUICK ? DATASET.requests / 10 : DATASET.requests },
  queryRuns: 7,
  memory: { rounds: QUICK ? 2 : 3 },
  steady: { minutes: QUICK ? 1 : Number(process.env.BENCH_STEADY_MINUTES ?? 10), rps: 50, sampleEveryMs: QUICK ? 5000 : 30_000, connections: 200 },
}
const TARGET = { addedP50: 1, addedP99: 5, throughputShare: 0.5, visibilityP99: 1000, statsMs: 50, logsMs: 50, searchMs: 300, loadedP99Ms: 2, rssGrowth: 0.1 }

const MODEL = 'claude-sonnet-4-6'
const PROMPT = 'Hello, how are you today?'
const STREAM_PROMPT = 'Stream me a short answer please'

// ── the requests ─────────────────────────────────────────────────────────────────────────────────────────

const json = { 'content-type': 'application/json' }
const anthropicVersion = { 'anthropic-version': '2023-06-01' }

function targets(mockUrl: string, gw: Gateway, token: string) {
  const auth = { authorization: `Bearer ${token}` }
  const messagesBody = JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] })
  const streamBody = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: STREAM_PROMPT }] })
  return {
    directMessages: { origin: mockUrl, path: '/v1/messages', headers: { ...json, ...anthropicVersion, 'x-api-key': UPSTREAM_KEY }, body: messagesBody },
    gatewayMessages: { origin: gw.url, path: '/v1/messages', headers: { ...json, ...anthropicVersion, ...auth }, body: messagesBody },
    // the translated path: OpenAI in at the gateway; directly, the Anthropic request it becomes
    gatewayChat: {
      origin: gw.url,
      path: '/v1/chat/completions',
      headers: { ...json, ...auth },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] }),
    },
    gatewayStream: { origin: gw.url, path: '/v1/messages', headers: { ...json, ...anthropicVersion, ...auth }, body: streamBody },
  } satisfies Record<string, Target>
}

// A Claude Code-like request: a long system prompt and a few turns resent with each request (~16 KB), the
// sessions' histories repeating as a client's do, the last turn new.
const SYSTEM_PROMPT = Array.from({ length: 120 }, (_, i) => `Rule ${i}: keep answers short, cite files by path, never run destructive commands without asking.`).join('\n')
const TURN_WORDS = 'function return const await import export interface class async value error result config request record token account'.split(' ')
function turn(session: number, k: number): string {
  return Array.from({ length: 180 }, (_, w) => TURN_WORDS[(session * 7 + k * 13 + w) % TURN_WORDS.length]).join(' ')
}
function conversation(origin: string, token: string, i: number, stream: boolean): Target {
  const session = i % 50
  const messages = Array.from({ length: 6 }, (_, k) => ({ role: k % 2 === 0 ? 'user' : 'assistant', content: `session ${session}, turn ${k}: ${turn(session, k)}` }))
  messages.push({ role: 'user', content: `request ${i}: please go on` })
  return {
    origin,
    path: '/v1/messages',
    headers: { ...json, ...anthropicVersion, authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, stream, system: SYSTEM_PROMPT, messages }),
  }
}

// ── bookkeeping ──────────────────────────────────────────────────────────────────────────────────────────

/** Answers the gateway gave to the bench token: each must have become one request_logs row. */
let answeredByGateway = 0
const countAnswers = (t: Tally) => (answeredByGateway += t.answered)
const errorsOf = (t: Tally) => (t.errors === 0 ? '0 errors' : `${t.errors} errors (first: ${t.firstError})`)

async function count(ch: ClickHouseClient, table: 'request_logs' | 'conversation_contents', tokenId: string): Promise<number> {
  const rs = await ch.query({ query: `SELECT count() AS n FROM ${table} WHERE token_id = {t:String}`, query_params: { t: tokenId }, format: 'JSONEachRow' })
  const [row] = await rs.json<{ n: string }>()
  return Number(row?.n ?? 0)
}

/** Row counts of the token once the exporter is drained (waiting a little longer while they are short). */
async function rowCounts(gw: Gateway, ch: ClickHouseClient, tokenId: string, expected: number) {
  await drained(gw)
  const deadline = Date.now() + 5000
  for (;;) {
    const [logs, contents] = await Promise.all([count(ch, 'request_logs', tokenId), count(ch, 'conversation_contents', tokenId)])
    if ((logs >= expected && contents >= expected) || Date.now() > deadline) return { logs, contents }
    await sleep(100)
  }
}

// ── the figures ──────────────────────────────────────────────────────────────────────────────────────────

function printPaired(label: string, r: PairedLatency, judge: boolean): void {
  const addedP50 = r.b.p50 - r.a.p50
  const addedP99 = r.b.p99 - r.a.p99
  line(`${label}  direct  p50 ${ms(r.a.p50)}  p99 ${ms(r.a.p99)}   (${errorsOf(r.tallyA)})`)
  line(`${label}  gateway p50 ${ms(r.b.p50)}  p99 ${ms(r.b.p99)}   (${errorsOf(r.tallyB)})`)
  if (judge) {
    line(`${label}  added   p50 ${ms(addedP50)}`, { target: `≤ ${TARGET.addedP50} ms`, met: addedP50 <= TARGET.addedP50 })
    line(`${label}  added   p99 ${ms(addedP99)}`, { target: `≤ ${TARGET.addedP99} ms`, met: addedP99 <= TARGET.addedP99 })
    record({ figure: '1 added latency p50 (messages)', measured: ms(addedP50), target: `≤ ${TARGET.addedP50} ms`, met: addedP50 <= TARGET.addedP50 })
    record({ figure: '1 added latency p99 (messages)', measured: ms(addedP99), target: `≤ ${TARGET.addedP99} ms`, met: addedP99 <= TARGET.addedP99 })
  } else {
    line(`${label}  added   p50 ${ms(addedP50)}  p99 ${ms(addedP99)}   (extra line; for reference the native path's targets are ≤ 1 / ≤ 5 ms)`)
    record({ figure: '1 added latency p50/p99 (chat, extra)', measured: `${ms(addedP50)} / ${ms(addedP99)}`, target: '(reference)' })
  }
}

async function figure1(mockUrl: string, t: ReturnType<typeof targets>): Promise<void> {
  heading('1. Added latency, one request at a time')
  const { warmup, pairs } = RUN.latency
  note(`${pairs} requests straight at the mock alternating with ${pairs} through the gateway (after ${warmup} warm-up pairs), one keep-alive`)
  note('connection each, non-streamed, ~110-byte body; latency = send → last body byte; added = p_gateway − p_direct of the two distributions')
  const messages = await alternating(t.directMessages, t.gatewayMessages, RUN.latency)
  countAnswers(messages.tallyB)
  printPaired('POST /v1/messages        ', messages, true)

  // Direct side of the translated path: the Anthropic request the gateway makes of the OpenAI one.
  const chat = await alternating(t.directMessages, t.gatewayChat, RUN.latency)
  countAnswers(chat.tallyB)
  printPaired('POST /v1/chat/completions', chat, false)
  note(`the chat line's direct side is the equivalent Anthropic request at the mock (${mockUrl}/v1/messages): it includes translation both ways`)
}

async function figure2(t: ReturnType<typeof targets>): Promise<void> {
  heading(`2. Throughput at ${RUN.throughput.connections} concurrent connections`)
  note(`closed loop: ${RUN.throughput.connections} workers, one keep-alive connection each, back to back for ${RUN.throughput.durationMs / 1000} s after ${RUN.throughput.warmupMs / 1000} s warm-up;`)
  note('non-streamed POST /v1/messages; the load generator (this process) shares the 2 cores with mock and gateway')
  const direct = await closedLoop(t.directMessages, RUN.throughput)
  const gateway = await closedLoop(t.gatewayMessages, RUN.throughput)
  countAnswers(gateway.tally)
  for (const [name, r] of [['direct ', direct], ['gateway', gateway]] as const) {
    line(`${name}  ${int(r.rps)} req/s  (${int(r.requests)} requests)  p50 ${ms(r.latency.p50)}  p99 ${ms(r.latency.p99)}  ${errorsOf(r.tally)}`)
  }
  const share = gateway.rps / direct.rps
  const met = share >= TARGET.throughputShare && gateway.tally.errors === 0 && direct.tally.errors === 0
  line(`gateway / direct = ${(share * 100).toFixed(1)} %, errors ${gateway.tally.errors + direct.tally.errors}`, { target: '≥ 50 % and 0 errors', met })
  record({ figure: '2 throughput gateway / direct', measured: `${int(gateway.rps)} / ${int(direct.rps)} req/s = ${(share * 100).toFixed(0)} %`, target: '≥ 50 %, 0 errors', met })
}

async function figure3(gw: Gateway, ch: ClickHouseClient, tokenId: string): Promise<void> {
  heading('3. Rows after the load')
  note('count() of request_logs and conversation_contents for the bench token (conversation logging on), once the exporter queue is empty,')
  note('vs the requests the gateway answered for that token in figures 1 and 2 (warm-ups included)')
  const { logs, contents } = await rowCounts(gw, ch, tokenId, answeredByGateway)
  line(`answered ${int(answeredByGateway)}  request_logs ${int(logs)}  lost ${int(answeredByGateway - logs)}`, { target: 'equal', met: logs === answeredByGateway })
  line(`answered ${int(answeredByGateway)}  conversation_contents ${int(contents)}`, { target: 'equal', met: contents === answeredByGateway })
  record({ figure: '3 request_logs rows = requests', measured: `${int(logs)} / ${int(answeredByGateway)}`, target: 'equal (0 lost)', met: logs === answeredByGateway })
  record({ figure: '3 conversation_contents rows = requests', measured: `${int(contents)} / ${int(answeredByGateway)}`, target: 'equal', met: contents === answeredByGateway })
}

async function figure4(gw: Gateway, ch: ClickHouseClient, tokenId: string, t: ReturnType<typeof targets>): Promise<void> {
  const { samples, rps, pollEveryMs } = RUN.visibility
  heading('4. Row visibility')
  note(`${samples} non-streamed requests at ${rps}/s; from the end of each response (client side) until SELECT … FROM request_logs WHERE id IN (pending ids)`)
  note(`over the HTTP interface returns its x-ccproxy-request-id (one poll every ${pollEveryMs} ms for all pending ids)`)
  note(`logging.flush_interval = ${gw.config.logging.flush_interval} ms (the default 1s), batch_size ${gw.config.logging.batch_size}: at this rate a batch leaves by age, so ~flush_interval is the expected worst case`)
  const v = await rowVisibility(t.gatewayMessages, ch, { tokenId, ...RUN.visibility })
  countAnswers(v.tally)
  line(`p50 ${ms(v.lag.p50, 0)}  p90 ${ms(v.lag.p90, 0)}  max ${ms(v.lag.max, 0)}  (${v.lag.count} rows seen, ${v.missing} not seen within ${RUN.visibility.timeoutMs / 1000} s, ${errorsOf(v.tally)})`)
  line(`p99 ${ms(v.lag.p99, 0)}`, { target: `≤ ${TARGET.visibilityP99} ms`, met: v.lag.p99 <= TARGET.visibilityP99 && v.missing === 0 })
  note(`poll round trip p50 ${ms(v.poll.p50)} / p99 ${ms(v.poll.p99)} over ${v.polls} polls (the resolution of these figures)`)
  record({ figure: '4 row visible after response, p99', measured: `${ms(v.lag.p99, 0)} (p50 ${ms(v.lag.p50, 0)})`, target: `≤ ${TARGET.visibilityP99} ms`, met: v.lag.p99 <= TARGET.visibilityP99 && v.missing === 0 })
}

async function figure5(gw: Gateway, ch: ClickHouseClient, tokenId: string, t: ReturnType<typeof targets>): Promise<void> {
  const { count: n, chunkDelayMs } = RUN.streams
  heading(`5. ${n} concurrent streaming requests`)
  // message_start, ping, content_block_start, one delta per word of the echo, content_block_stop, message_delta, message_stop
  const events = 6 + `Echo: ${STREAM_PROMPT}`.split(/\s+/).length
  note(`${n} streamed POST /v1/messages at once, one connection each; the mock waits ${chunkDelayMs} ms between SSE events (${events} events: ≥ ${(events - 1) * chunkDelayMs} ms per stream)`)
  const bufferSize = gw.config.logging.buffer_size
  const r = await concurrentStreams(t.gatewayStream, n)
  countAnswers(r.tally)
  const p = await drained(gw)
  const e = p.exporter
  line(`${r.completed} of ${n} complete in ${ms(r.wallMs, 0)}; per stream p50 ${ms(r.durations.p50, 0)}  p99 ${ms(r.durations.p99, 0)}  ${errorsOf(r.tally)}`, {
    target: 'all complete',
    met: r.completed === n,
  })
  const queueOk = e.peakQueueDepth < bufferSize && e.rowsSpooled === 0 && e.rowsDropped === 0
  line(`exporter peak queue depth ${int(e.peakQueueDepth)} of buffer_size ${int(bufferSize)}; rowsSpooled ${e.rowsSpooled}, rowsDropped ${e.rowsDropped}, rowsWritten ${int(e.rowsWritten)}`, {
    target: 'peak < buffer_size, 0 spooled/dropped',
    met: queueOk,
  })
  note('peakQueueDepth is the exporter\'s high-water mark since start-up, so it covers figures 1–5 (the 200-connection load included)')
  const { logs, contents } = await rowCounts(gw, ch, tokenId, answeredByGateway)
  line(`cumulative check, figures 1–5: answered ${int(answeredByGateway)}  request_logs ${int(logs)}  conversation_contents ${int(contents)}`, {
    target: 'equal',
    met: logs === answeredByGateway && contents === answeredByGateway,
  })
  record({ figure: `5 ${n} concurrent streams complete`, measured: `${r.completed} / ${n} (p99 ${ms(r.durations.p99, 0)})`, target: 'all', met: r.completed === n })
  record({ figure: '5 exporter queue never full', measured: `peak ${int(e.peakQueueDepth)} / ${int(bufferSize)}, spooled ${e.rowsSpooled}, dropped ${e.rowsDropped}`, target: 'peak < buffer, 0 / 0', met: queueOk })
  record({ figure: '5 rows = requests (cumulative, figs 1–5)', measured: `${int(logs)} / ${int(answeredByGateway)}`, target: 'equal', met: logs === answeredByGateway && contents === answeredByGateway })
}

async function figure6(gw: Gateway, label: string, summary: boolean): Promise<void> {
  const m = memoryOf(gw.pid)
  const p = await pipeline(gw)
  line(`${label}: peak RSS (VmHWM) ${mib(m.peakRss)}, current RSS (VmRSS) ${mib(m.rss)}  (the gateway's own rss_bytes: ${mib(p.rss_bytes)})`)
  if (summary) record({ figure: `6 gateway RSS, ${label}`, measured: `peak ${mib(m.peakRss)}, now ${mib(m.rss)}`, target: '(info)' })
}

async function figure7(gw: Gateway, ch: ClickHouseClient): Promise<Dataset> {
  heading('7. Query speed over a generated dataset')
  const requests = RUN.dataset.requests
  note(`${int(requests)} request_logs rows over ${DATASET.days} days, ${DATASET.tokens} tokens (skewed), ${DATASET.accounts} accounts, 4 models, ~5 % failures;`)
  note(`${int(requests / DATASET.contentEvery)} conversation_contents rows: Zipf-like picks from a 3,000-word vocabulary, unique ids in 15 %, Chinese in 5 %;`)
  note('generated server-side (INSERT … SELECT … FROM numbers(N) over the HTTP interface); usage_stats_daily fills through its materialized view')
  const d = await generateDataset(ch, requests)
  line(`generated: request_logs ${int(d.requests)} rows in ${secs(d.requestsMs)}, conversation_contents ${int(d.conversations)} rows in ${secs(d.conversationsMs)}`)
  await drained(gw)
  const merges = await mergesSettled(ch, gw.config.clickhouse.database, 60_000)
  note(`background merges of the new parts ${merges.settled ? 'finished' : 'still running'} after a ${secs(merges.waitedMs)} wait (system.merges); timing starts now`)

  const now = Date.now()
  const day = 86_400_000
  const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const tok = d.busyToken
  const cases: QueryCase[] = [
    { kind: 'stats', name: 'token stats (30 days)', path: `/api/stats/tokens/${tok}?days=30` },
    { kind: 'stats', name: 'token trend (30 days)', path: `/api/stats/tokens/${tok}/trend?days=30` },
    { kind: 'stats', name: 'overview (30 days)', path: '/api/stats/overview?days=30' },
    { kind: 'stats', name: 'realtime (today)', path: '/api/stats/realtime' },
    { kind: 'stats', name: 'top tokens (30 days)', path: '/api/stats/top/tokens?days=30&limit=10' },
    { kind: 'logs', name: 'logs page 1, no filter', path: '/api/logs/requests' },
    { kind: 'logs', name: 'logs page 1, token', path: `/api/logs/requests?token_id=${tok}` },
    { kind: 'logs', name: 'logs page 1, token + 1-day range', path: `/api/logs/requests?token_id=${tok}&from=${iso(now - 10 * day)}&to=${iso(now - 9 * day)}` },
    { kind: 'logs', name: 'logs page 1, sorted by duration', path: '/api/logs/requests?sort=duration_ms&order=desc' },
    { kind: 'logs', name: 'one log by id', path: `/api/logs/requests/${d.sampleLogId}` },
    { kind: 'search', name: `search unique word "${d.rareWord}"`, path: `/api/conversations/search?q=${encodeURIComponent(d.rareWord)}` },
    { kind: 'search', name: `search common word "${d.commonWord}"`, path: `/api/conversations/search?q=${encodeURIComponent(d.commonWord)}` },
    { kind: 'search', name: `search Chinese "${d.chinesePhrase}"`, path: `/api/conversations/search?q=${encodeURIComponent(d.chinesePhrase)}` },
  ]
  note(`each through the gateway's admin API over HTTP: 1 warm-up, then the median of ${RUN.queryRuns} runs (send → body read); busy token ${tok}`)
  const timings = await timeAdminQueries(gw.url, ADMIN_KEY, cases, RUN.queryRuns)
  const limit = { stats: TARGET.statsMs, logs: TARGET.logsMs, search: TARGET.searchMs }
  const nameWidth = Math.max(...timings.map((x) => width(x.name)))
  for (const q of timings) {
    const met = q.median <= limit[q.kind]
    line(`${pad(q.name, nameWidth)}  median ${ms(q.median, 1).padStart(10)}  (min ${ms(q.min, 1)}, max ${ms(q.max, 1)})  ${q.answer}`, { target: `≤ ${limit[q.kind]} ms`, met })
    record({ figure: `7 ${q.name}`, measured: ms(q.median, 1), target: `≤ ${limit[q.kind]} ms`, met })
  }
  return d
}

async function figure8(ch: ClickHouseClient, database: string): Promise<void> {
  heading('8. Storage')
  note(`system.parts (active parts) and system.columns of database ${database}, after figure 7 (dataset + bench traffic), without OPTIMIZE … FINAL`)
  const { tables, columns } = await storage(ch, database)
  for (const s of tables) {
    line(
      `${s.table.padEnd(22)} ${int(s.rows).padStart(10)} rows  ${String(s.parts).padStart(3)} parts  compressed ${mib(s.compressed).padStart(10)}  uncompressed ${mib(s.uncompressed).padStart(10)}` +
        `  ratio ${(s.uncompressed / s.compressed).toFixed(1)}×  on disk ${mib(s.onDisk)} (skip indexes ${mib(s.skipIndexes)})`,
    )
  }
  const logs = tables.find((s) => s.table === 'request_logs')
  const conv = tables.find((s) => s.table === 'conversation_contents')
  if (logs && conv) {
    const withoutContent = logs.onDisk / logs.rows
    const contentPerRow = conv.onDisk / conv.rows
    line(`bytes per request without content: ${bytes(withoutContent)} on disk (${bytes(logs.compressed / logs.rows)} compressed data, ${bytes(logs.uncompressed / logs.rows)} raw)`)
    line(`bytes per request with content:    ${bytes(withoutContent + contentPerRow)} on disk (its conversation row: ${bytes(contentPerRow)}, ${bytes(conv.uncompressed / conv.rows)} raw)`)
    line(`compression ratio: request_logs ${(logs.uncompressed / logs.compressed).toFixed(1)}×, conversation_contents ${(conv.uncompressed / conv.compressed).toFixed(1)}×`)
    record({ figure: '8 bytes/request without content', measured: `${bytes(withoutContent)} (ratio ${(logs.uncompressed / logs.compressed).toFixed(1)}×)`, target: '(info)' })
    record({ figure: '8 bytes/request with content', measured: `${bytes(withoutContent + contentPerRow)} (content ratio ${(conv.uncompressed / conv.compressed).toFixed(1)}×)`, target: '(info)' })
  }
  note('largest columns: ' + columns.map((c) => `${c.table}.${c.column} ${mib(c.compressed)} (${(c.uncompressed / Math.max(1, c.compressed)).toFixed(1)}×)`).join(', '))
}

async function figure9(gw: Gateway, t: ReturnType<typeof targets>, d: Dataset): Promise<void> {
  heading('9. Added latency while admin queries and an export run')
  const day = 86_400_000
  const from = new Date(Date.now() - 3 * day).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const heavy = [
    '/api/logs/requests?sort=duration_ms&order=desc',
    '/api/stats/overview?days=30',
    `/api/conversations/search?q=${encodeURIComponent(d.commonWord)}`,
    '/api/stats/top/tokens?days=30&limit=10',
  ]
  const exportPath = `/api/logs/requests/export?format=jsonl&from=${from}`
  note(`figure 1's measurement twice over the dataset of figure 7: quiet, then while the admin API serves heavy queries back to back`)
  note(`(${heavy.map((h) => h.split('?')[0]).join(', ')}: a full-table sort, aggregates, a common-word search) and, at the same`)
  note(`time, an export of the last 3 days as JSON Lines read to its end, on a loop; admin reads run on their own lane (clickhouse.admin_queries)`)
  const quiet = await alternating(t.directMessages, t.gatewayMessages, RUN.latency)
  countAnswers(quiet.tallyB)
  const load = analyticLoad(gw.url, ADMIN_KEY, { queries: heavy, exportPath })
  await sleep(500)
  const loaded = await alternating(t.directMessages, t.gatewayMessages, RUN.latency)
  const bg = await load.stop()
  countAnswers(loaded.tallyB)
  const added = (r: PairedLatency) => ({ p50: r.b.p50 - r.a.p50, p99: r.b.p99 - r.a.p99 })
  const q = added(quiet)
  const l = added(loaded)
  line(`quiet   added p50 ${ms(q.p50)}  p99 ${ms(q.p99)}   (gateway p99 ${ms(quiet.b.p99)}, ${errorsOf(quiet.tallyB)})`)
  line(`loaded  added p50 ${ms(l.p50)}  p99 ${ms(l.p99)}   (gateway p99 ${ms(loaded.b.p99)}, ${errorsOf(loaded.tallyB)})`)
  line(`meanwhile: ${int(bg.queries)} heavy admin queries, ${int(bg.exports)} exports (${mib(bg.exportBytes)} read), ${bg.errors} errors${bg.firstError ? ` (first: ${bg.firstError})` : ''}`)
  const met = l.p99 - q.p99 <= TARGET.loadedP99Ms && loaded.tallyB.errors === 0 && bg.queries > 0 && bg.exportBytes > 0
  line(`added p99 under load − quiet: ${ms(l.p99 - q.p99)}`, { target: `≤ ${TARGET.loadedP99Ms} ms`, met })
  record({ figure: '9 added p99 under admin load', measured: `${ms(l.p99)} vs ${ms(q.p99)} quiet (p50 ${ms(l.p50)} vs ${ms(q.p50)})`, target: `within ${TARGET.loadedP99Ms} ms`, met })
}

async function figure10(gw: Gateway, token: string): Promise<void> {
  const n = RUN.streams.count
  heading(`10. Memory across ${n} concurrent streams, ${RUN.memory.rounds} rounds`)
  note(`${n} streamed POST /v1/messages at once with ~${Math.round(conversation(gw.url, token, 0, true).body.length / 1024)} KB Claude Code-like conversations (conversation logging on),`)
  note('then wait until the exporter has written everything; the gateway\'s VmRSS after each round; the first round is the warm-up')
  note('(connection pools, buffers and compiled code grow to their working size), flat = the last round vs the second')
  const after: number[] = []
  for (let round = 1; round <= RUN.memory.rounds; round++) {
    const r = await concurrentStreams((i) => conversation(gw.url, token, round * 100_000 + i, true), n)
    countAnswers(r.tally)
    await drained(gw, 120_000)
    const m = memoryOf(gw.pid)
    after.push(m.rss)
    line(`round ${round}: ${r.completed} of ${n} complete (p99 ${ms(r.durations.p99, 0)}, ${errorsOf(r.tally)}); RSS ${mib(m.rss)} (peak ${mib(m.peakRss)})`)
  }
  const growth = after[after.length - 1]! / after[Math.min(1, after.length - 1)]! - 1
  const met = growth <= TARGET.rssGrowth
  line(`RSS after the last round vs the second: ${(growth * 100).toFixed(1)} %`, { target: `≤ ${TARGET.rssGrowth * 100} %`, met })
  record({ figure: `10 RSS across ${n}-stream rounds`, measured: after.map(mib).join(' → '), target: `flat (≤ ${TARGET.rssGrowth * 100} % growth)`, met })
}

async function figure11(gw: Gateway, token: string): Promise<void> {
  const { minutes, rps, sampleEveryMs, connections } = RUN.steady
  heading(`11. ${minutes} minute${minutes === 1 ? '' : 's'} of steady load`)
  note(`${rps} requests/s, alternately streamed and not, each a ~16 KB Claude Code-like conversation (conversation logging on);`)
  note(`the gateway's VmRSS every ${sampleEveryMs / 1000} s; growth = last sample vs the sample at the end of the first minute (warm-up)`)
  const run = await steadyLoad(gw.url, (i) => conversation(gw.url, token, 1_000_000 + i, i % 2 === 0), { rps, durationMs: minutes * 60_000, sampleEveryMs, connections }, () => memoryOf(gw.pid).rss)
  countAnswers(run.tally)
  const warm = run.samples.find((s) => s.atMs >= 60_000) ?? run.samples[0]!
  const last = run.samples[run.samples.length - 1]!
  const max = Math.max(...run.samples.map((s) => s.rss))
  const growth = last.rss / warm.rss - 1
  line(`${int(run.sent)} requests, p50 ${ms(run.latency.p50)}  p99 ${ms(run.latency.p99)}, ${errorsOf(run.tally)}`)
  line(`RSS: ${run.samples.map((s) => `${Math.round(s.atMs / 1000)}s ${Math.round(s.rss / 1024 / 1024)}`).join(', ')} (MiB)`)
  const met = growth <= TARGET.rssGrowth && run.tally.errors === 0
  line(`RSS at the end vs after the first minute: ${mib(last.rss)} vs ${mib(warm.rss)} (${(growth * 100).toFixed(1)} %), max ${mib(max)}`, { target: `≤ ${TARGET.rssGrowth * 100} %`, met })
  record({ figure: `11 RSS over ${minutes} min at ${rps} req/s`, measured: `${mib(warm.rss)} → ${mib(last.rss)} (max ${mib(max)})`, target: `flat (≤ ${TARGET.rssGrowth * 100} % growth)`, met })
}

async function finalRows(gw: Gateway, ch: ClickHouseClient, tokenId: string): Promise<void> {
  const { logs, contents } = await rowCounts(gw, ch, tokenId, answeredByGateway)
  line(`every figure: answered ${int(answeredByGateway)}  request_logs ${int(logs)}  conversation_contents ${int(contents)}`, {
    target: 'equal',
    met: logs === answeredByGateway && contents === answeredByGateway,
  })
  record({ figure: 'rows = requests (every figure)', measured: `${int(logs)} / ${int(answeredByGateway)}`, target: 'equal', met: logs === answeredByGateway && contents === answeredByGateway })
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  cleanupOnExit()
  const started = performance.now()
  console.log(`ccproxy bench${QUICK ? ' (BENCH_QUICK: shortened trial run, not the figures)' : ''} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim()})`)
  const mock = await startMock(RUN.streams.chunkDelayMs)
  const gw = await startGateway(mock.url)
  const { logging } = gw.config
  console.log(`mock upstream ${mock.url}; gateway ${gw.url} (pid ${gw.pid}), embedded ClickHouse, HTTP interface ${gw.clickhouseUrl}`)
  console.log(`exporter: buffer_size ${logging.buffer_size}, batch_size ${logging.batch_size}, flush_interval ${logging.flush_interval} ms, workers ${logging.workers}`)
  const { token, id: tokenId } = await mintToken(gw, 'bench')
  const ch = createClient({
    url: gw.clickhouseUrl,
    database: gw.config.clickhouse.database,
    username: gw.config.clickhouse.embedded.http_user,
    password: gw.config.clickhouse.embedded.http_password,
    // the dataset's INSERT … SELECT runs for a while; the bench reports failures itself
    request_timeout: 600_000,
    clickhouse_settings: { send_progress_in_http_headers: 1 },
    log: { level: ClickHouseLogLevel.OFF },
  })
  const t = targets(mock.url, gw, token)
  try {
    await figure1(mock.url, t)
    await figure2(t)
    await figure3(gw, ch, tokenId)
    await figure4(gw, ch, tokenId, t)
    await figure5(gw, ch, tokenId, t)
    heading('6. Gateway memory')
    note(`/proc/${gw.pid}/status of the gateway's node process (VmHWM = peak resident set since start)`)
    await figure6(gw, 'after the load (figures 1–5)', true)
    const dataset = await figure7(gw, ch)
    await figure6(gw, 'after the dataset and the queries (figure 7)', false)
    await figure8(ch, gw.config.clickhouse.database)
    await figure9(gw, t, dataset)
    await figure10(gw, token)
    await figure11(gw, token)
    heading('Rows')
    await finalRows(gw, ch, tokenId)
    printSummary()
    console.log(`\nbench took ${((performance.now() - started) / 1000).toFixed(0)} s`)
  } finally {
    await ch.close()
  }
}

main()
  .then(() => cleanup())
  .then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('bench failed:', err)
      process.exit(1)
    },
  )
