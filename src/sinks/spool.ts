import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ConversationRow, RequestLogRow } from '../record/request-record.ts'

/**
 * The exporter's disk buffer: batches ClickHouse could not take, kept in order until it can.
 *
 * Segment files `segment-<seq>.jsonl` hold one batch per line. A run appends to segments of its own
 * (numbered after every segment already there), so a line torn by a crash is always the last of its
 * file and never has a later append glued to it. Replay reads the oldest segment, hands its batches
 * over one by one and deletes the file once all of them are in. Lines that do not parse (a torn
 * write) and batches ClickHouse refuses as invalid are moved to `rejected/` for a human to look at.
 */

/** One batch, its rows exactly as first formed: replaying it with the same token is idempotent. */
export interface SpooledBatch {
  token: string
  request_logs: RequestLogRow[]
  conversation_contents: ConversationRow[]
}

export type AppendOutcome = { ok: true } | { ok: false; reason: string }

/** Replay's answer for a batch: `done` removes it from the spool, `stop` keeps it and ends the replay. */
export type ReplayStep = 'done' | 'stop'

export interface SpoolLog {
  warn(obj: object, msg: string): void
}

interface Segment {
  seq: number
  path: string
  bytes: number
  /** lines of it already replayed (and acknowledged) by this process */
  replayed: number
}

// Small enough that a replay reads a segment into memory at once, large enough to keep files few.
const SEGMENT_BYTES = 8 * 1024 * 1024
const SEGMENT_NAME = /^segment-(\d{12})\.jsonl$/
// Spooled rows are request logs (and, for tokens that opted in, conversations): for this user's eyes only.
const PRIVATE_DIR = 0o700
const PRIVATE_FILE = 0o600

export class Spool {
  readonly dir: string
  readonly #rejectedDir: string
  readonly #maxBytes: number
  readonly #log: SpoolLog | undefined
  readonly #segments: Segment[] = []
  /** the segment appends go to; undefined until the first append and after a seal */
  #active: Segment | undefined
  #nextSeq = 1
  #bytes = 0
  /** why the spool directory cannot be used, when it cannot */
  #unusable: string | undefined
  /** appends, seals and deletions run one at a time, in order */
  #tail: Promise<unknown>

  constructor(dir: string, opts: { maxBytes: number; log?: SpoolLog }) {
    this.dir = dir
    this.#rejectedDir = join(dir, 'rejected')
    this.#maxBytes = opts.maxBytes
    this.#log = opts.log
    this.#tail = this.#scan()
  }

  /** Resolves once the segments left by earlier runs are known (bytes and hasBatches are then right). */
  ready(): Promise<void> {
    return this.#serial(async () => undefined)
  }

  /** Bytes of the segment files, replayed lines included until their segment is deleted. */
  get bytes(): number {
    return this.#bytes
  }

  get hasBatches(): boolean {
    return this.#segments.length > 0
  }

  /** Writes the batch as one line, synced to disk. Never rejects: a full or failing disk is an outcome. */
  append(batch: SpooledBatch): Promise<AppendOutcome> {
    const line = Buffer.from(JSON.stringify(batch) + '\n', 'utf8')
    return this.#serial(async (): Promise<AppendOutcome> => {
      if (this.#unusable) return { ok: false, reason: this.#unusable }
      if (this.#bytes + line.length > this.#maxBytes) return { ok: false, reason: 'spool_max_bytes reached' }
      const segment = this.#appendTarget()
      try {
        const file = await open(segment.path, 'a', PRIVATE_FILE)
        try {
          await file.write(line)
          await file.datasync()
        } finally {
          await file.close()
        }
      } catch (err) {
        await this.#retire(segment)
        return { ok: false, reason: describeIoError(err) }
      }
      segment.bytes += line.length
      this.#bytes += line.length
      return { ok: true }
    })
  }

  /** Keeps a batch ClickHouse refused under rejected/, out of the replay's way. Returns the file. */
  async reject(batch: SpooledBatch): Promise<string> {
    return this.#setAside(`${new Date().toISOString().replace(/[:.]/g, '-')}-${batch.token}.jsonl`, JSON.stringify(batch) + '\n')
  }

  /**
   * Hands every spooled batch to `deliver`, oldest first, until the spool is empty or `deliver` says
   * stop. Only one replay may run at a time. Rejects only when the disk cannot be read.
   */
  async replay(deliver: (batch: SpooledBatch) => Promise<ReplayStep>): Promise<void> {
    await this.ready()
    for (;;) {
      const segment = await this.#serial(async () => {
        // Seal the segment appends are going to, so the one being replayed no longer grows.
        if (this.#segments[0] === this.#active) this.#active = undefined
        return this.#segments[0]
      })
      if (!segment) return
      const lines = (await readSegment(segment.path)).split('\n')
      for (; segment.replayed < lines.length; segment.replayed++) {
        const line = lines[segment.replayed]!
        if (!line) continue
        const batch = parseBatch(line)
        if (!batch) {
          await this.#setAsideCorrupt(segment, line)
          continue
        }
        if ((await deliver(batch)) === 'stop') return
      }
      await this.#serial(async () => {
        await rm(segment.path, { force: true })
        this.#forget(segment)
      })
    }
  }

  async #scan(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR })
      const found: Segment[] = []
      for (const name of await readdir(this.dir)) {
        const match = SEGMENT_NAME.exec(name)
        if (!match) continue
        const path = join(this.dir, name)
        const info = await stat(path)
        if (!info.isFile()) continue
        found.push({ seq: Number(match[1]), path, bytes: info.size, replayed: 0 })
      }
      found.sort((a, b) => a.seq - b.seq)
      this.#segments.push(...found)
      this.#bytes = found.reduce((sum, s) => sum + s.bytes, 0)
      this.#nextSeq = (found.at(-1)?.seq ?? 0) + 1
    } catch (err) {
      this.#unusable = `spool directory unusable: ${describeIoError(err)}`
    }
  }

  #appendTarget(): Segment {
    if (!this.#active || this.#active.bytes >= SEGMENT_BYTES) {
      const seq = this.#nextSeq++
      this.#active = { seq, path: join(this.dir, `segment-${pad(seq)}.jsonl`), bytes: 0, replayed: 0 }
      this.#segments.push(this.#active)
    }
    return this.#active
  }

  /**
   * After a failed write: later appends go to a new segment, so a torn line stays last in its file.
   * The failed one keeps what reached the disk (its torn end is skipped on replay), or goes if empty.
   */
  async #retire(segment: Segment): Promise<void> {
    this.#active = undefined
    const size = await stat(segment.path).then(
      (info) => (info.isFile() ? info.size : 0),
      () => 0,
    )
    this.#bytes += size - segment.bytes
    segment.bytes = size
    if (size === 0) {
      await rm(segment.path, { force: true }).catch(() => undefined)
      this.#forget(segment)
    }
  }

  #forget(segment: Segment): void {
    const at = this.#segments.indexOf(segment)
    if (at >= 0) this.#segments.splice(at, 1)
    this.#bytes -= segment.bytes
  }

  /** A line that does not parse is skipped either way: keeping a copy is for a human, not for replay. */
  async #setAsideCorrupt(segment: Segment, line: string): Promise<void> {
    const where = { segment: segment.seq, line: segment.replayed + 1, bytes: Buffer.byteLength(line) }
    try {
      const file = await this.#setAside(`segment-${pad(segment.seq)}-line-${where.line}.corrupt`, line)
      this.#log?.warn({ ...where, file }, 'spool: skipped a line that does not parse (a write cut short by a crash)')
    } catch (err) {
      this.#log?.warn({ ...where, err: describeIoError(err) }, 'spool: skipped a line that does not parse, and could not keep a copy of it')
    }
  }

  async #setAside(name: string, text: string): Promise<string> {
    await mkdir(this.#rejectedDir, { recursive: true, mode: PRIVATE_DIR })
    const path = join(this.#rejectedDir, name)
    await writeFile(path, text, { mode: PRIVATE_FILE })
    return path
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task)
    this.#tail = run.catch(() => undefined)
    return run
  }
}

async function readSegment(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
}

function parseBatch(line: string): SpooledBatch | undefined {
  try {
    const value = JSON.parse(line) as Partial<SpooledBatch> | null
    if (typeof value?.token === 'string' && Array.isArray(value.request_logs) && Array.isArray(value.conversation_contents)) {
      return value as SpooledBatch
    }
  } catch {
    // a torn line: reported by the caller
  }
  return undefined
}

function describeIoError(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err)
}

function pad(seq: number): string {
  return String(seq).padStart(12, '0')
}
