import { describe, expect, it } from 'vitest'
import { RecordQueue, recordBytes } from '../src/sinks/record-queue.ts'
import type { RequestRecord } from '../src/record/request-record.ts'

// The exporter's memory, on its own: bounded in records and in bytes, batches cut by size and by weight,
// what does not fit goes to the overflow (the spool), a batch weighs until its delivery is done.

const rec = (chars = 0, id = 'r'): RequestRecord => ({ id, content: chars ? { prompt: 'x'.repeat(chars) } : null }) as unknown as RequestRecord
const LIMITS = { maxRecords: 4, maxBytes: 100_000, batchSize: 2, batchMaxBytes: 50_000 }

describe('RecordQueue', () => {
  it('weighs a record as its texts plus a fixed allowance', () => {
    expect(recordBytes(rec(0))).toBe(1024)
    expect(recordBytes(rec(5000))).toBe(6024)
  })

  it('holds up to maxRecords; the rest overflows; done() makes room again', () => {
    const q = new RecordQueue(LIMITS)
    expect([1, 2, 3, 4, 5].map(() => q.push(rec()))).toEqual(['queued', 'queued', 'queued', 'queued', 'overflow'])
    expect(q.stats()).toEqual({ queueDepth: 5, queueBytes: 5 * 1024, peakQueueDepth: 4 })
    const batch = q.nextBatch(false)!
    expect(batch.records).toHaveLength(2)
    // taken but not delivered: still held
    expect(q.push(rec())).toBe('overflow')
    q.done(batch)
    expect(q.push(rec())).toBe('queued')
    expect(q.nextOverflow()!.records).toHaveLength(2)
    expect(q.nextOverflow()).toBeUndefined()
  })

  it('holds up to maxBytes, but always at least one record however large', () => {
    const q = new RecordQueue(LIMITS)
    expect(q.push(rec(200_000))).toBe('queued')
    expect(q.push(rec(0))).toBe('overflow')
    const q2 = new RecordQueue(LIMITS)
    expect(q2.push(rec(60_000))).toBe('queued')
    expect(q2.push(rec(30_000))).toBe('queued')
    expect(q2.push(rec(20_000))).toBe('overflow')
  })

  it('cuts full batches by count or weight; everything only when asked', () => {
    const q = new RecordQueue({ ...LIMITS, maxRecords: 100, maxBytes: 10_000_000 })
    q.push(rec())
    expect(q.batchReady).toBe(false)
    expect(q.nextBatch(false)).toBeUndefined()
    expect(q.nextBatch(true)!.records).toHaveLength(1)
    for (let i = 0; i < 5; i++) q.push(rec())
    expect(q.nextBatch(false)!.records).toHaveLength(2)
    expect(q.nextBatch(false)!.records).toHaveLength(2)
    expect(q.nextBatch(false)).toBeUndefined()
    expect(q.nextBatch(true)!.records).toHaveLength(1)
    // by weight: 30 KB + 30 KB passes batchMaxBytes (50 KB), so the first batch holds one
    q.push(rec(30_000, 'a'))
    q.push(rec(30_000, 'b'))
    expect(q.batchReady).toBe(true)
    expect(q.nextBatch(false)!.records.map((r) => r.id)).toEqual(['a'])
  })

  it('overflows everything when asked (shutting down)', () => {
    const q = new RecordQueue(LIMITS)
    expect(q.push(rec(), true)).toBe('overflow')
    expect(q.stats().queueDepth).toBe(1)
    expect(q.nextBatch(true)).toBeUndefined()
  })
})
