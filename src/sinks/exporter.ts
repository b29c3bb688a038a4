import { randomUUID } from 'node:crypto'
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client'
import { conversationRow, requestLogRow, type RequestRecord } from '../record/request-record.ts'
import { Spool, type ReplayStep, type SpooledBatch } from './spool.ts'

/**
 * The ClickHouse sink: records wait in a bounded queue, leave in batches (by size or by age), and go
 * into request_logs and conversation_contents with up to `workers` inserts at a time. When ClickHouse
 * is away, slow or erroring, batches go to the on-disk spool and are replayed, oldest first, once it
 * answers again. Each batch carries a deduplication token, so a replay after a lost acknowledgement
 * writes nothing twice (usage_stats_daily's materialized view included). A batch ClickHouse refuses as
 * invalid is split until the refused rows are found: they alone are set aside, the rest goes in. The
 * queue and the batches are bounded in records and in bytes. enqueue() is the only thing the request
 * path calls: it pushes onto an array and returns.
 */

export interface ExporterLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface ExporterOptions {
  /** logging.buffer_size: records held in memory (queued or being inserted); beyond it they go to the spool */
  bufferSize: number
  /** logging.batch_size: rows per insert */
  batchSize: number
  /** logging.buffer_max_bytes: what the records in memory may weigh (recordBytes); beyond it they go to the spool */
  bufferMaxBytes?: number
  /** logging.batch_max_bytes: a batch closes at batchSize rows or this weight, whichever comes first */
  batchMaxBytes?: number
  /** logging.flush_interval: longest a record waits for its batch */
  flushIntervalMs: number
  /** logging.workers: concurrent inserts (replay takes a turn like any batch) */
  workers: number
  /** <data_dir>/spool */
  spoolDir: string
  /** logging.spool_max_bytes: beyond it rows are dropped (counted, logged) */
  spoolMaxBytes: number
  /** how often to retry the spool while ClickHouse is away (default 5000) */
  replayIntervalMs?: number
  /** longest one insert may take before its batch is spooled (default 10000) */
  insertTimeoutMs?: number
  /** longest shutdown() waits for ClickHouse before spooling what is left (default 3000) */
  shutdownTimeoutMs?: number
  log?: ExporterLog
}

export interface ExporterStats {
  /** records in memory, not yet written or spooled */
  queueDepth: number
  /** their weight (recordBytes): what buffer_max_bytes bounds */
  queueBytes: number
  /** the most records the queue has held at once (a full queue shows as bufferSize) */
  peakQueueDepth: number
  /** request_logs rows inserted from the queue */
  rowsWritten: number
  /** conversation_contents rows inserted from the queue */
  conversationRowsWritten: number
  rowsSpooled: number
  rowsReplayed: number
  /** rows neither written nor spooled (spool full or failing), refused by ClickHouse as invalid, or in a spool line that cannot be read back */
  rowsDropped: number
  /** conversation_contents rows refused by ClickHouse as invalid (their request_logs rows went in) */
  conversationRowsDropped: number
  spoolBytes: number
  /** batches handled (written, spooled or replayed) */
  batches: number
  /** how long the latest of them took */
  lastBatchMs: number
}

export type BatchOutcome = 'written' | 'spooled' | 'replayed'

const DEFAULT_REPLAY_INTERVAL_MS = 5000
const DEFAULT_INSERT_TIMEOUT_MS = 10_000
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 3000
const DEFAULT_BUFFER_MAX_BYTES = 256 * 1024 ** 2
const DEFAULT_BATCH_MAX_BYTES = 16 * 1024 ** 2
// A row without conversation: ids, names, numbers and short texts, as JSON and as objects.
const RECORD_OVERHEAD_BYTES = 1024
const MIN_SPOOL_LINE_BYTES = 256 * 1024 ** 2

const TABLES = ['request_logs', 'conversation_contents'] as const
const NONE_REFUSED = { request_logs: 0, conversation_contents: 0 }

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

/** How a try at ClickHouse went, and when it began (after the wait for a worker: batch times leave it out). */
interface Attempt {
  outcome: 'written' | 'unavailable'
  started: number
  /** rows ClickHouse refused as invalid (set aside under rejected/, counted as dropped): none, usually */
  refused: { request_logs: number; conversation_contents: number }
}

/** One row ClickHouse refused on its own: the batch it came from went in without it. */
interface RefusedRow {
  table: (typeof TABLES)[number]
  /** the token of the one-row insert that was refused */
  token: string
  row: object
  reason: InvalidData
}

export class ClickHouseExporter {
  /** called after every batch, for histograms; an exception in it is ignored */
  onBatch?: (b: { rows: number; ms: number; outcome: BatchOutcome }) => void

  readonly #client: ClickHouseClient
  readonly #opts: Required<Pick<ExporterOptions, 'bufferSize' | 'batchSize' | 'bufferMaxBytes' | 'batchMaxBytes' | 'flushIntervalMs' | 'replayIntervalMs' | 'insertTimeoutMs' | 'shutdownTimeoutMs'>>
  readonly #log: ExporterLog | undefined
  readonly #spool: Spool
  readonly #slots: Slots
  /** records waiting for a batch */
  #queue: Queued[] = []
  #queueBytes = 0
  /** records bound for the spool (queue full, or shutdown begun), until the spool writer takes them */
  #overflow: Queued[] = []
  #overflowBytes = 0
  /** records in the queue or in a batch being delivered: what bufferSize bounds */
  #held = 0
  #heldBytes = 0
  #peakDepth = 0
  /** deliveries and spool writes under way, for forceFlush */
  readonly #pending = new Set<Promise<void>>()
  #spoolWriter: Promise<void> | undefined
  #cutScheduled = false
  #replaying: Promise<void> | undefined
  /** the latest insert failed for want of ClickHouse (not for bad data) */
  #away = false
  #dropping: { rows: number; reason: string } | undefined
  #timers: NodeJS.Timeout[] = []
  #started = false
  #stopping = false
  #stopped: Promise<void> | undefined
  /** fires at shutdown's deadline: inserts still running give up and their batches are spooled */
  readonly #deadline = new AbortController()
  readonly #counts = {
    rowsWritten: 0,
    conversationRowsWritten: 0,
    rowsSpooled: 0,
    rowsReplayed: 0,
    rowsDropped: 0,
    conversationRowsDropped: 0,
    batches: 0,
    lastBatchMs: 0,
  }

  constructor(client: ClickHouseClient, opts: ExporterOptions) {
    this.#client = client
    this.#log = opts.log
    this.#opts = {
      bufferSize: opts.bufferSize,
      batchSize: opts.batchSize,
      bufferMaxBytes: opts.bufferMaxBytes ?? DEFAULT_BUFFER_MAX_BYTES,
      batchMaxBytes: opts.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES,
      flushIntervalMs: opts.flushIntervalMs,
      replayIntervalMs: opts.replayIntervalMs ?? DEFAULT_REPLAY_INTERVAL_MS,
      insertTimeoutMs: opts.insertTimeoutMs ?? DEFAULT_INSERT_TIMEOUT_MS,
      shutdownTimeoutMs: opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    }
    this.#slots = new Slots(opts.workers)
    this.#spool = new Spool(opts.spoolDir, {
      maxBytes: opts.spoolMaxBytes,
      // a batch's line, with room for JSON's escapes (recordBytes counts characters, not bytes)
      maxLineBytes: Math.max(MIN_SPOOL_LINE_BYTES, 8 * this.#opts.batchMaxBytes),
      // the spool logs what it skips; the count is the exporter's
      onDrop: (rows) => {
        this.#counts.rowsDropped += rows
      },
      ...(opts.log ? { log: opts.log } : {}),
    })
  }

  /** Starts the flush and replay timers and replays, in the background, what earlier runs spooled. */
  async start(): Promise<void> {
    if (this.#started || this.#stopping) return
    this.#started = true
    await this.#spool.ready()
    this.#timers = [
      setInterval(() => this.#cut(true), this.#opts.flushIntervalMs),
      setInterval(() => this.#replay(), this.#opts.replayIntervalMs),
    ]
    // The process lives for the gateway, not for these timers.
    for (const timer of this.#timers) timer.unref()
    if (this.#spool.hasBatches) this.#log?.info({ spoolBytes: this.#spool.bytes }, 'exporter: replaying the spool left by an earlier run')
    this.#replay()
  }

  /** O(1), never awaits, never throws: the record joins the queue, or the spool's overflow when the queue is full. */
  enqueue(record: RequestRecord): void {
    const queued = { record, bytes: recordBytes(record) }
    // By count and by weight: ten thousand long conversations would not fit in memory.
    const full = this.#held >= this.#opts.bufferSize || (this.#held > 0 && this.#heldBytes + queued.bytes > this.#opts.bufferMaxBytes)
    if (this.#stopping || full) {
      this.#overflow.push(queued)
      this.#overflowBytes += queued.bytes
      this.#spoolWriter ??= this.#track(this.#writeOverflow())
      return
    }
    this.#queue.push(queued)
    this.#queueBytes += queued.bytes
    this.#held++
    this.#heldBytes += queued.bytes
    if (this.#held > this.#peakDepth) this.#peakDepth = this.#held
    if (this.#batchReady() && !this.#cutScheduled) {
      this.#cutScheduled = true
      setImmediate(() => {
        this.#cutScheduled = false
        this.#cut(false)
      })
    }
  }

  /** Resolves when everything enqueued before the call is written, spooled or (spool full) dropped. */
  async forceFlush(): Promise<void> {
    this.#cut(true)
    await Promise.all(this.#pending)
  }

  /** Stops the timers, flushes (spooling what ClickHouse does not take in time), waits for disk writes. Idempotent. */
  shutdown(): Promise<void> {
    this.#stopped ??= this.#shutdown()
    return this.#stopped
  }

  stats(): ExporterStats {
    return {
      ...this.#counts,
      queueDepth: this.#held + this.#overflow.length,
      queueBytes: this.#heldBytes + this.#overflowBytes,
      peakQueueDepth: this.#peakDepth,
      spoolBytes: this.#spool.bytes,
    }
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true
    for (const timer of this.#timers) clearInterval(timer)
    const deadline = setTimeout(() => this.#deadline.abort(), this.#opts.shutdownTimeoutMs)
    try {
      await this.forceFlush()
      await this.#replaying
    } finally {
      clearTimeout(deadline)
    }
    this.#endDropping()
    this.#log?.info(this.stats(), 'exporter: stopped')
  }

  /** Forms batches from the queue: full ones only, or everything when `all`. */
  #cut(all: boolean): void {
    while (this.#batchReady() || (all && this.#queue.length > 0)) {
      const { records, bytes } = this.#take(this.#queue)
      this.#queueBytes -= bytes
      this.#track(
        this.#deliver(records).finally(() => {
          this.#held -= records.length
          this.#heldBytes -= bytes
        }),
      )
    }
  }

  #batchReady(): boolean {
    return this.#queue.length >= this.#opts.batchSize || this.#queueBytes >= this.#opts.batchMaxBytes
  }

  /** The next batch off the front of `list`: up to batchSize records and batchMaxBytes (at least one record). */
  #take(list: Queued[]): { records: RequestRecord[]; bytes: number } {
    let n = 0
    let bytes = 0
    while (n < list.length && n < this.#opts.batchSize && (n === 0 || bytes + list[n]!.bytes <= this.#opts.batchMaxBytes)) bytes += list[n++]!.bytes
    return { records: list.splice(0, n).map((q) => q.record), bytes }
  }

  async #deliver(records: RequestRecord[]): Promise<void> {
    const batch = this.#form(records)
    if (!batch) return
    // While ClickHouse is away and the replay is probing it with the spool, go straight to disk.
    const bypass = this.#away && this.#spool.hasBatches
    const { outcome, started, refused }: Attempt = bypass ? { outcome: 'unavailable', started: performance.now(), refused: NONE_REFUSED } : await this.#attempt(batch)
    if (outcome === 'written') {
      this.#counts.rowsWritten += batch.request_logs.length - refused.request_logs
      this.#counts.conversationRowsWritten += batch.conversation_contents.length - refused.conversation_contents
      this.#report(batch, started, 'written')
    } else if (outcome === 'unavailable') {
      await this.#spoolBatch(batch, started)
    }
  }

  /** The spool writer: takes whatever overflowed since its last write, so it batches by itself. */
  async #writeOverflow(): Promise<void> {
    // Off the caller's stack: enqueue stays O(1).
    await new Promise<void>((resolve) => setImmediate(resolve))
    try {
      while (this.#overflow.length > 0) {
        const { records, bytes } = this.#take(this.#overflow)
        this.#overflowBytes -= bytes
        const batch = this.#form(records)
        if (batch) await this.#spoolBatch(batch, performance.now())
      }
    } finally {
      this.#spoolWriter = undefined
    }
  }

  /** Rows are made once, here: a replay sends the same bytes and ids (conversationRow draws a random id). */
  #form(records: RequestRecord[]): SpooledBatch | undefined {
    const batch: SpooledBatch = { token: randomUUID(), request_logs: [], conversation_contents: [] }
    for (const record of records) {
      try {
        const conversation = conversationRow(record)
        batch.request_logs.push(requestLogRow(record))
        if (conversation) batch.conversation_contents.push(conversation)
      } catch (err) {
        this.#drop(1, `a record could not be made into a row: ${(err as Error)?.message ?? err}`)
      }
    }
    return batch.request_logs.length > 0 ? batch : undefined
  }

  async #spoolBatch(batch: SpooledBatch, started: number): Promise<void> {
    const outcome = await this.#spool.append(batch)
    if (!outcome.ok) return this.#drop(batch.request_logs.length, outcome.reason)
    this.#endDropping()
    this.#counts.rowsSpooled += batch.request_logs.length
    this.#report(batch, started, 'spooled')
  }

  /** One try at ClickHouse, in a worker slot. */
  async #attempt(batch: SpooledBatch): Promise<Attempt> {
    await this.#slots.acquire()
    const started = performance.now()
    let failure: unknown
    let refused: RefusedRow[]
    try {
      // @clickhouse/client ignores a signal that is already aborted: past the deadline, do not start.
      if (this.#deadline.signal.aborted) return { outcome: 'unavailable', started, refused: NONE_REFUSED }
      refused = await this.#insert(batch)
      this.#endDropping()
      if (this.#away) {
        this.#away = false
        this.#log?.info({ spoolBytes: this.#spool.bytes }, 'exporter: ClickHouse answers again')
      }
      this.#replay()
    } catch (err) {
      failure = err
    } finally {
      this.#slots.release()
    }
    if (failure === undefined) {
      for (const row of refused!) await this.#reject(batch, row)
      const count = (table: RefusedRow['table']) => refused!.filter((r) => r.table === table).length
      return { outcome: 'written', started, refused: { request_logs: count('request_logs'), conversation_contents: count('conversation_contents') } }
    }
    if (!this.#away && !this.#deadline.signal.aborted) {
      this.#log?.warn({ err: describe(failure), spoolBytes: this.#spool.bytes }, 'exporter: ClickHouse unavailable, spooling batches until it answers')
    }
    this.#away = true
    return { outcome: 'unavailable', started, refused: NONE_REFUSED }
  }

  /** Inserts the batch table by table; returns the rows ClickHouse refused as invalid, the rest all in. */
  async #insert(batch: SpooledBatch): Promise<RefusedRow[]> {
    const refused: RefusedRow[] = []
    for (const table of TABLES) {
      const rows: readonly object[] = batch[table]
      if (rows.length > 0) refused.push(...(await this.#insertRows(table, rows, `${batch.token}:${table}`)))
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
  async #insertRows(table: RefusedRow['table'], rows: readonly object[], token: string): Promise<RefusedRow[]> {
    const timeout = AbortSignal.timeout(this.#opts.insertTimeoutMs)
    try {
      await this.#client.insert({
        table,
        values: rows,
        format: 'JSONEachRow',
        abort_signal: AbortSignal.any([this.#deadline.signal, timeout]),
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
      if (!reason) throw timeout.aborted ? new Error(`no answer within ${this.#opts.insertTimeoutMs} ms`, { cause: err }) : err
      if (rows.length === 1) return [{ table, token, row: rows[0]!, reason }]
      const half = Math.ceil(rows.length / 2)
      const first = await this.#insertRows(table, rows.slice(0, half), `${token}/0`)
      return [...first, ...(await this.#insertRows(table, rows.slice(half), `${token}/1`))]
    }
  }

  /** Replays the spool unless a replay is already running; it stops at ClickHouse's first refusal. */
  #replay(): void {
    if (this.#replaying || this.#stopping || !this.#spool.hasBatches) return
    this.#replaying = this.#spool
      .replay((batch) => this.#replayBatch(batch))
      .catch((err: unknown) => this.#log?.error({ err: describe(err), spoolDir: this.#spool.dir }, 'exporter: cannot read the spool'))
      .finally(() => {
        this.#replaying = undefined
      })
  }

  async #replayBatch(batch: SpooledBatch): Promise<ReplayStep> {
    if (this.#stopping) return 'stop'
    const { outcome, started, refused } = await this.#attempt(batch)
    if (outcome === 'unavailable') return 'stop'
    this.#counts.rowsReplayed += batch.request_logs.length - refused.request_logs
    this.#report(batch, started, 'replayed')
    return 'done'
  }

  /** Bad data never goes in: keep the row aside for a human and say so (where and why, never content). */
  async #reject(batch: SpooledBatch, refused: RefusedRow): Promise<void> {
    if (refused.table === 'request_logs') this.#counts.rowsDropped++
    else this.#counts.conversationRowsDropped++
    const { table, token, reason } = refused
    const where = { batch: batch.token, token, table, ...reason }
    try {
      const file = await this.#spool.reject({ token, table, reason, row: refused.row })
      this.#log?.error({ ...where, file }, 'exporter: ClickHouse refused a row as invalid; the rest of its batch went in, the row is kept under rejected/')
    } catch (err) {
      this.#log?.error({ ...where, err: describe(err) }, 'exporter: ClickHouse refused a row as invalid, and it could not be kept')
    }
  }

  /** Counts lost rows; logs once when an incident begins and once when it ends, with the count. */
  #drop(rows: number, reason: string): void {
    this.#counts.rowsDropped += rows
    if (this.#dropping) {
      this.#dropping.rows += rows
      return
    }
    this.#dropping = { rows, reason }
    this.#log?.error({ rows, reason, spoolBytes: this.#spool.bytes }, 'exporter: dropping rows that can be neither written nor spooled')
  }

  #endDropping(): void {
    if (!this.#dropping) return
    this.#log?.warn(this.#dropping, 'exporter: stopped dropping rows')
    this.#dropping = undefined
  }

  #report(batch: SpooledBatch, started: number, outcome: BatchOutcome): void {
    const ms = performance.now() - started
    this.#counts.batches++
    this.#counts.lastBatchMs = ms
    try {
      this.onBatch?.({ rows: batch.request_logs.length, ms, outcome })
    } catch {
      // a metrics hook must not break delivery
    }
  }

  #track(work: Promise<void>): Promise<void> {
    const tracked = work.catch((err: unknown) => this.#log?.error({ err: describe(err) }, 'exporter: unexpected failure'))
    this.#pending.add(tracked)
    void tracked.finally(() => this.#pending.delete(tracked))
    return tracked
  }
}

/** A record waiting in memory, with its weight. */
interface Queued {
  record: RequestRecord
  bytes: number
}

/**
 * What a record weighs in memory and in an insert, near enough: its conversation's texts (UTF-16 units)
 * plus a fixed allowance for the rest. O(1): the request path calls it.
 */
function recordBytes(r: RequestRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES
  if (r.content) for (const text of Object.values(r.content)) bytes += (text as string).length
  return bytes
}

/** Up to `size` holders at a time; the others wait their turn, first come first served. */
class Slots {
  #free: number
  readonly #waiting: Array<() => void> = []

  constructor(size: number) {
    this.#free = size
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return Promise.resolve()
    }
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#free++
  }
}

interface InvalidData {
  code: number
  type?: string
  /** where ClickHouse stopped reading: the column and row, never the value */
  column?: string
  row?: number
}

function invalidData(err: unknown): InvalidData | undefined {
  if (!(err instanceof ClickHouseError) || !INVALID_DATA_CODES.has(Number(err.code))) return undefined
  const column = /while reading the value of key ([^)]+)\)/.exec(err.message)?.[1]
  const row = /\(at row (\d+)\)/.exec(err.message)?.[1]
  return { code: Number(err.code), type: err.type, ...(column ? { column } : {}), ...(row ? { row: Number(row) } : {}) }
}

/** An error for a log line: its first line only (ClickHouse appends stack-like context below it). */
function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.split('\n')[0]!.slice(0, 300)
}
