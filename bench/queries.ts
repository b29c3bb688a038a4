// Figure 7 (admin read API timings over the dataset) and figure 8 (storage from system.parts / system.columns).

import type { ClickHouseClient } from '@clickhouse/client'
import { Client } from 'undici'
import { median } from './load.ts'

export interface QueryCase {
  name: string
  path: string
  kind: 'stats' | 'logs' | 'search'
}

export interface QueryTiming extends QueryCase {
  median: number
  min: number
  max: number
  /** what came back, in a few words (rows, totals) */
  answer: string
}

/** What a response holds, so a fast empty answer cannot pass unnoticed. */
function describe(body: any): string {
  if (Array.isArray(body?.logs)) return `${body.logs.length} logs of ${Number(body.total).toLocaleString('en-US')}`
  if (Array.isArray(body?.conversations)) return `${body.conversations.length} hits`
  if (Array.isArray(body?.trend)) return `${body.trend.length} days, ${body.trend.reduce((n: number, p: any) => n + p.request_count, 0).toLocaleString('en-US')} req`
  if (Array.isArray(body?.tokens)) return `${body.tokens.length} tokens`
  if (typeof body?.request_count === 'number') return `${body.request_count.toLocaleString('en-US')} req`
  if (typeof body?.total_requests === 'number') return `${body.total_requests.toLocaleString('en-US')} req`
  if (typeof body?.id === 'string') return `log ${body.id.slice(0, 8)}…${body.conversation_content_id ? ' + content id' : ''}`
  return ''
}

/**
 * Each case over HTTP through the gateway's admin API on one keep-alive connection: one warm-up call, then
 * `runs` timed calls (request sent → body read); the median is the figure.
 */
export async function timeAdminQueries(gatewayUrl: string, adminKey: string, cases: QueryCase[], runs: number): Promise<QueryTiming[]> {
  const client = new Client(gatewayUrl, { pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 })
  const headers = { 'x-admin-key': adminKey }
  const out: QueryTiming[] = []
  try {
    for (const c of cases) {
      const times: number[] = []
      let answer = ''
      for (let i = 0; i <= runs; i++) {
        const start = performance.now()
        const res = await client.request({ method: 'GET', path: c.path, headers })
        const text = await res.body.text()
        const ms = performance.now() - start
        if (res.statusCode !== 200) throw new Error(`${c.path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`)
        if (i === 0) answer = describe(JSON.parse(text))
        else times.push(ms)
      }
      out.push({ ...c, median: median(times), min: Math.min(...times), max: Math.max(...times), answer })
    }
  } finally {
    await client.close()
  }
  return out
}

/**
 * Waits until no background merge runs in `database` (the dataset's parts merging would compete with the
 * timed queries), at most `timeoutMs`. Returns how long it waited and whether merges had stopped.
 */
export async function mergesSettled(ch: ClickHouseClient, database: string, timeoutMs: number): Promise<{ waitedMs: number; settled: boolean }> {
  const start = performance.now()
  for (;;) {
    const rs = await ch.query({ query: 'SELECT count() AS n FROM system.merges WHERE database = {db:String}', query_params: { db: database }, format: 'JSONEachRow' })
    const [row] = await rs.json<{ n: string }>()
    const waitedMs = performance.now() - start
    if (Number(row?.n ?? 0) === 0) return { waitedMs, settled: true }
    if (waitedMs > timeoutMs) return { waitedMs, settled: false }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

export interface TableStorage {
  table: string
  rows: number
  parts: number
  compressed: number
  uncompressed: number
  /** data + marks + primary index + skip indexes */
  onDisk: number
  skipIndexes: number
}

export interface ColumnStorage {
  table: string
  column: string
  compressed: number
  uncompressed: number
}

const n = (v: unknown) => Number(v ?? 0)

export async function storage(ch: ClickHouseClient, database: string): Promise<{ tables: TableStorage[]; columns: ColumnStorage[] }> {
  const tablesRs = await ch.query({
    query: `SELECT table, sum(rows) AS rows, count() AS parts, sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u,
                   sum(bytes_on_disk) AS d, sum(secondary_indices_compressed_bytes) AS i
            FROM system.parts WHERE database = {db:String} AND active
              AND table IN ('request_logs', 'conversation_contents', 'usage_stats_daily')
            GROUP BY table ORDER BY table`,
    query_params: { db: database },
    format: 'JSONEachRow',
  })
  const tables = (await tablesRs.json<Record<string, unknown>>()).map((r) => ({
    table: String(r.table),
    rows: n(r.rows),
    parts: n(r.parts),
    compressed: n(r.c),
    uncompressed: n(r.u),
    onDisk: n(r.d),
    skipIndexes: n(r.i),
  }))
  const columnsRs = await ch.query({
    query: `SELECT table, name, data_compressed_bytes AS c, data_uncompressed_bytes AS u FROM system.columns
            WHERE database = {db:String} AND table IN ('request_logs', 'conversation_contents')
            ORDER BY data_compressed_bytes DESC LIMIT 8`,
    query_params: { db: database },
    format: 'JSONEachRow',
  })
  const columns = (await columnsRs.json<Record<string, unknown>>()).map((r) => ({
    table: String(r.table),
    column: String(r.name),
    compressed: n(r.c),
    uncompressed: n(r.u),
  }))
  return { tables, columns }
}
