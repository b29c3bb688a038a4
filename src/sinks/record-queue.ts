import type { RequestRecord } from '../record/request-record.ts'

/**
 * The exporter's memory: records wait here for a batch, bounded in records and in bytes. A record that
 * does not fit goes to the overflow, which the spool writer drains to disk. A batch's records stay counted
 * (held) until its delivery is done, so the bounds cover what is being inserted too. Pure bookkeeping:
 * no timers, no I/O.
 */
export interface QueueLimits {
  /** logging.buffer_size: records held (queued or being delivered) */
  maxRecords: number
  /** logging.buffer_max_bytes: their weight */
  maxBytes: number
  /** logging.batch_size: records per batch */
  batchSize: number
  /** logging.batch_max_bytes: a batch closes at batchSize records or this weight */
  batchMaxBytes: number
}

/** Records leaving together, with their weight. */
export interface Batch {
  records: RequestRecord[]
  bytes: number
}

/** A record waiting in memory, with its weight. */
interface Queued {
  record: RequestRecord
  bytes: number
}

// A row without conversation: ids, names, numbers and short texts, as JSON and as objects.
const RECORD_OVERHEAD_BYTES = 1024

export class RecordQueue {
  #queue: Queued[] = []
  #queueBytes = 0
  #overflow: Queued[] = []
  #overflowBytes = 0
  /** records in the queue or in a batch being delivered: what maxRecords and maxBytes bound */
  #held = 0
  #heldBytes = 0
  #peak = 0

  constructor(readonly limits: QueueLimits) {}

  /** O(1). Into the queue, or into the overflow when the queue is full or `overflow` is asked (shutting down). */
  push(record: RequestRecord, overflow = false): 'queued' | 'overflow' {
    const queued = { record, bytes: recordBytes(record) }
    // By count and by weight: ten thousand long conversations would not fit in memory.
    const full = this.#held >= this.limits.maxRecords || (this.#held > 0 && this.#heldBytes + queued.bytes > this.limits.maxBytes)
    if (overflow || full) {
      this.#overflow.push(queued)
      this.#overflowBytes += queued.bytes
      return 'overflow'
    }
    this.#queue.push(queued)
    this.#queueBytes += queued.bytes
    this.#held++
    this.#heldBytes += queued.bytes
    if (this.#held > this.#peak) this.#peak = this.#held
    return 'queued'
  }

  /** a full batch is waiting */
  get batchReady(): boolean {
    return this.#queue.length >= this.limits.batchSize || this.#queueBytes >= this.limits.batchMaxBytes
  }

  /** The next batch off the queue: a full one, or (with `all`) whatever is there. Call done() when delivered. */
  nextBatch(all: boolean): Batch | undefined {
    if (!this.batchReady && !(all && this.#queue.length > 0)) return undefined
    const batch = this.#take(this.#queue)
    this.#queueBytes -= batch.bytes
    return batch
  }

  /** The batch is written, spooled or dropped: its records no longer weigh on memory. */
  done(batch: Batch): void {
    this.#held -= batch.records.length
    this.#heldBytes -= batch.bytes
  }

  /** The next batch of overflow, for the spool. */
  nextOverflow(): Batch | undefined {
    if (this.#overflow.length === 0) return undefined
    const batch = this.#take(this.#overflow)
    this.#overflowBytes -= batch.bytes
    return batch
  }

  /** records in memory (held or overflowing) and their weight; the most ever held at once */
  stats(): { queueDepth: number; queueBytes: number; peakQueueDepth: number } {
    return { queueDepth: this.#held + this.#overflow.length, queueBytes: this.#heldBytes + this.#overflowBytes, peakQueueDepth: this.#peak }
  }

  /** Up to batchSize records and batchMaxBytes off the front of `list` (at least one record). */
  #take(list: Queued[]): Batch {
    const { batchSize, batchMaxBytes } = this.limits
    let n = 0
    let bytes = 0
    while (n < list.length && n < batchSize && (n === 0 || bytes + list[n]!.bytes <= batchMaxBytes)) bytes += list[n++]!.bytes
    return { records: list.splice(0, n).map((q) => q.record), bytes }
  }
}

/**
 * What a record weighs in memory and in an insert, near enough: its conversation's texts (UTF-16 units)
 * plus a fixed allowance for the rest. O(1): the request path calls it.
 */
export function recordBytes(r: RequestRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES
  if (r.content) for (const text of Object.values(r.content)) bytes += (text as string).length
  return bytes
}
