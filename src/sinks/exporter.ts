import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { conversationRow, requestLogRow, type RequestRecord } from '../record/request-record.ts'
import { Slots } from '../slots.ts'
import { Spool, type ReplayStep, type SpooledBatch } from './spool.ts'
import { RecordQueue, type Batch } from './record-queue.ts'
import { ClickHouseWriter, type RefusedRow } from './clickhouse-writer.ts'

/**
 * The ClickHouse sink, as OpenTelemetry's BatchSpanProcessor is for spans: records wait in a bounded queue
 * (record-queue.ts), leave in batches (by size or by age), and the writer (clickhouse-writer.ts) puts them
 * into request_logs and conversation_contents with up to `workers` inserts at a time. When ClickHouse is
 * away, slow or erroring, batches go to the on-disk spool (spool.ts) and are replayed, oldest first, once it
 * answers again; rows ClickHouse refuses as invalid are set aside under rejected/. enqueue() is the only
 * thing the request path calls: it pushes onto an array and returns.
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
  /** logging.spool_max_bytes: beyond it rows are dropped (counted, logged); 0 = only a full disk drops rows */
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
const MIN_SPOOL_LINE_BYTES = 256 * 1024 ** 2

const NONE_REFUSED = { request_logs: 0, conversation_contents: 0 }

/** How a try at ClickHouse went, and when it began (after the wait for a worker: batch times leave it out). */
interface Attempt {
  outcome: 'written' | 'unavailable'
  started: number
  /** rows ClickHouse refused as invalid (set aside under rejected/, counted as dropped): none, usually */
  refused: { request_logs: number; conversation_contents: number }
}

export class ClickHouseExporter {
  /** called after every batch, for histograms; an exception in it is ignored */
  onBatch?: (b: { rows: number; ms: number; outcome: BatchOutcome }) => void

  readonly #opts: Required<Pick<ExporterOptions, 'flushIntervalMs' | 'replayIntervalMs' | 'shutdownTimeoutMs'>>
  readonly #log: ExporterLog | undefined
  readonly #queue: RecordQueue
  readonly #writer: ClickHouseWriter
  readonly #spool: Spool
  readonly #slots: Slots
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
    this.#log = opts.log
    this.#opts = {
      flushIntervalMs: opts.flushIntervalMs,
      replayIntervalMs: opts.replayIntervalMs ?? DEFAULT_REPLAY_INTERVAL_MS,
      shutdownTimeoutMs: opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    }
    const batchMaxBytes = opts.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES
    this.#queue = new RecordQueue({
      maxRecords: opts.bufferSize,
      maxBytes: opts.bufferMaxBytes ?? DEFAULT_BUFFER_MAX_BYTES,
      batchSize: opts.batchSize,
      batchMaxBytes,
    })
    this.#writer = new ClickHouseWriter(client, opts.insertTimeoutMs ?? DEFAULT_INSERT_TIMEOUT_MS)
    this.#slots = new Slots(opts.workers)
    this.#spool = new Spool(opts.spoolDir, {
      maxBytes: opts.spoolMaxBytes,
      // a batch's line, with room for JSON's escapes (recordBytes counts characters, not bytes)
      maxLineBytes: Math.max(MIN_SPOOL_LINE_BYTES, 8 * batchMaxBytes),
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
    if (this.#queue.push(record, this.#stopping) === 'overflow') {
      this.#spoolWriter ??= this.#track(this.#writeOverflow())
      return
    }
    if (this.#queue.batchReady && !this.#cutScheduled) {
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
    return { ...this.#counts, ...this.#queue.stats(), spoolBytes: this.#spool.bytes }
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
    for (let batch: Batch | undefined; (batch = this.#queue.nextBatch(all)); ) {
      const taken = batch
      this.#track(this.#deliver(taken.records).finally(() => this.#queue.done(taken)))
    }
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
      for (let overflow: Batch | undefined; (overflow = this.#queue.nextOverflow()); ) {
        const batch = this.#form(overflow.records)
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
      refused = await this.#writer.write(batch, this.#deadline.signal)
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

/** An error for a log line: its first line only (ClickHouse appends stack-like context below it). */
function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.split('\n')[0]!.slice(0, 300)
}
