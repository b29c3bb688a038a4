import type { RunResult } from './engine.ts'

/** What ClickHouse's HTTP interface says about a result: the same on the HTTP and the direct path. */

export interface Summary {
  read_rows: string
  read_bytes: string
  written_rows: string
  written_bytes: string
  total_rows_to_read: string
  result_rows: string
  result_bytes: string
  elapsed_ns: string
}

export function contentTypeFor(format: string): string {
  const f = format.toLowerCase()
  if (f.startsWith('json') || f === 'ndjson' || f === 'jsonl') return 'application/json; charset=UTF-8'
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8'
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=' + (f.includes('withnames') ? 'present' : 'absent')
  if (f === 'xml') return 'application/xml; charset=UTF-8'
  if (['native', 'rowbinary', 'parquet', 'arrow', 'arrowstream', 'orc', 'avro', 'msgpack', 'protobuf', 'capnproto', 'bson', 'npy'].some((b) => f.startsWith(b))) {
    return 'application/octet-stream'
  }
  return 'text/plain; charset=UTF-8'
}

// Line formats escape newlines inside values, so rows are lines (minus the header lines).
const LINE_FORMATS: Record<string, number> = {
  jsoneachrow: 0,
  jsonlines: 0,
  ndjson: 0,
  jsonl: 0,
  jsonstringseachrow: 0,
  jsoncompacteachrow: 0,
  jsoncompactstringseachrow: 0,
  jsoncompacteachrowwithnames: 1,
  jsoncompactstringseachrowwithnames: 1,
  jsoncompacteachrowwithnamesandtypes: 2,
  jsoncompactstringseachrowwithnamesandtypes: 2,
  tabseparated: 0,
  tsv: 0,
  tabseparatedraw: 0,
  tsvraw: 0,
  tabseparatedwithnames: 1,
  tsvwithnames: 1,
  tabseparatedwithnamesandtypes: 2,
  tsvwithnamesandtypes: 2,
}

/** Rows in the result where that is exact and cheap; 0 otherwise (as a server says before the query ends). */
export function resultRows(bytes: Buffer, format: string): number {
  const header = LINE_FORMATS[format.toLowerCase()]
  if (header === undefined || bytes.length === 0) return 0
  let lines = 0
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++
  return Math.max(0, lines - header)
}

export function summaryOf(r: RunResult | undefined): Summary {
  return {
    read_rows: String(r?.rowsRead ?? 0),
    read_bytes: String(r?.bytesRead ?? 0),
    written_rows: String(r?.rowsWritten ?? 0),
    written_bytes: String(r?.bytesWritten ?? 0),
    total_rows_to_read: String(r?.rowsRead ?? 0),
    result_rows: String(r ? resultRows(r.bytes, r.format) : 0),
    result_bytes: String(r?.bytes.length ?? 0),
    elapsed_ns: String(r?.elapsedNs ?? 0),
  }
}

/** The X-ClickHouse-* and Content-Type headers of a successful response (lower-case, as Node reports them). */
export function resultHeaders(r: RunResult, queryId: string, timezone?: string): Record<string, string> {
  return {
    'content-type': contentTypeFor(r.format),
    'x-clickhouse-query-id': queryId,
    'x-clickhouse-format': r.format,
    ...(timezone ? { 'x-clickhouse-timezone': timezone } : {}),
    'x-clickhouse-summary': JSON.stringify(summaryOf(r)),
  }
}
