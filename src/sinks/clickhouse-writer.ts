import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client'
import type { SpooledBatch } from './spool.ts'

/**
 * Writes a batch into request_logs and conversation_contents, idempotently: each insert carries a
 * deduplication token, so a replay after a lost acknowledgement writes nothing twice (usage_stats_daily's
 * materialized view included). An insert ClickHouse refuses as invalid data is split until the refused rows
 * are found; they alone come back, the rest goes in.
 */

export const TABLES = ['request_logs', 'conversation_contents'] as const
export type Table = (typeof TABLES)[number]

/** One row ClickHouse refused on its own: the batch it came from went in without it. */
export interface RefusedRow {
  table: Table
  /** the token of the one-row insert that was refused */
  token: string
  row: object
  reason: InvalidData
}

export interface InvalidData {
  code: number
  type?: string
  /** where ClickHouse stopped reading: the column and row, never the value */
  column?: string
  row?: number
}

// Error codes that mean "this data can never go in" rather than "not now": the batch is split down to the
// rows refused, which are set aside instead of blocking the spool. Missing tables, authentication, too
// many parts … are "not now".
const INVALID_DATA_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  8, // THERE_IS_NO_COLUMN
  16, // NO_SUCH_COLUMN_IN_TABLE
  25, // CANNOT_PARSE_ESCAPE_SEQUENCE
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  376, // CANNOT_PARSE_UUID
  467, // CANNOT_PARSE_BOOL
  632, // UNEXPECTED_DATA_AFTER_PARSED_VALUE
  675, // CANNOT_PARSE_IPV4
  676, // CANNOT_PARSE_IPV6
])

export class ClickHouseWriter {
  constructor(
    private readonly client: ClickHouseClient,
    /** longest one insert may take; past it the write fails (and its batch is spooled) */
    private readonly insertTimeoutMs: number,
  ) {}

  /** Inserts the batch table by table; resolves with the rows ClickHouse refused as invalid, the rest all in. */
  async write(batch: SpooledBatch, signal: AbortSignal): Promise<RefusedRow[]> {
    const refused: RefusedRow[] = []
    for (const table of TABLES) {
      const rows: readonly object[] = batch[table]
      if (rows.length > 0) refused.push(...(await this.#insertRows(table, rows, `${batch.token}:${table}`, signal)))
    }
    return refused
  }

  /**
   * One insert; when ClickHouse refuses it as invalid data, each half is inserted on its own, down to the
   * bad rows. A half's deduplication token is its parent's plus `/0` or `/1`, and the halves are always cut
   * at the same place: a replay of the batch (after a crash, a timeout mid-way) retraces the same inserts
   * with the same tokens, and ClickHouse skips those it already has. A table already written under its
   * token is skipped the same way, so a refusal in conversation_contents never writes request_logs twice.
   */
  async #insertRows(table: Table, rows: readonly object[], token: string, signal: AbortSignal): Promise<RefusedRow[]> {
    const timeout = AbortSignal.timeout(this.insertTimeoutMs)
    try {
      await this.client.insert({
        table,
        values: rows,
        format: 'JSONEachRow',
        abort_signal: AbortSignal.any([signal, timeout]),
        clickhouse_settings: {
          // What makes a replay idempotent: ClickHouse skips a block whose token it has seen (within the
          // table's non_replicated_deduplication_window), and so does the materialized view behind it.
          insert_deduplication_token: token,
          deduplicate_blocks_in_dependent_materialized_views: 1,
          async_insert: 0,
        },
      })
      return []
    } catch (err) {
      const reason = invalidData(err)
      // The client only says "aborted"; the log should say why.
      if (!reason) throw timeout.aborted ? new Error(`no answer within ${this.insertTimeoutMs} ms`, { cause: err }) : err
      if (rows.length === 1) return [{ table, token, row: rows[0]!, reason }]
      const half = Math.ceil(rows.length / 2)
      const first = await this.#insertRows(table, rows.slice(0, half), `${token}/0`, signal)
      return [...first, ...(await this.#insertRows(table, rows.slice(half), `${token}/1`, signal))]
    }
  }
}

function invalidData(err: unknown): InvalidData | undefined {
  if (!(err instanceof ClickHouseError) || !INVALID_DATA_CODES.has(Number(err.code))) return undefined
  const column = /while reading the value of key ([^)]+)\)/.exec(err.message)?.[1]
  const row = /\(at row (\d+)\)/.exec(err.message)?.[1]
  return { code: Number(err.code), type: err.type, ...(column ? { column } : {}), ...(row ? { row: Number(row) } : {}) }
}
