import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ConversationRow, RequestLogRow } from '../record/request-record.ts'

/**
 * The exporter's disk buffer: batches ClickHouse could not take, kept in order until it can.
 *
 * Segment files `segment-<seq>.jsonl` hold one batch per line. A run appends to segments of its own
 * (numbered after every segment already there), so a line torn by a crash is always the last of its
 * file and never has a later append glued to it. Replay reads the oldest segment line by line, hands
 * its batches over one by one and deletes the file once all of them are in. Lines that do not parse
 * (a torn write) and rows ClickHouse refuses as invalid are kept in `rejected/` for a human to look at;
 * a line longer than maxLineBytes is skipped without being held in memory. The rows of a line that
 * cannot be replayed are counted (onDrop).
 */

/** One batch, its rows exactly as first formed: replaying it with the same token is idempotent. */
export interface SpooledBatch {
  token: string
  request_logs: RequestLogRow[]
  conversation_contents: ConversationRow[]
}

/** A row ClickHouse refused as invalid, as kept under rejected/: enough for a human to fix it and insert it. */
export interface RejectedRow {
  /** the deduplication token of the one-row insert that was refused (`<batch>:<table>/0/1…`) */
  token: string
  table: string
  /** ClickHouse's error code and type, and where it stopped reading (never the value) */
  reason: object
  row: object
}

export type AppendOutcome = { ok: true } | { ok: false; reason: string }

/** Replay's answer for a batch: `done` removes it from the spool, `stop` keeps it and ends the replay. */
export type ReplayStep = 'done' | 'stop'

export interface SpoolLog {
  warn(obj: object, msg: string): void
}

export interface SpoolOptions {
  /** what the spool may hold on disk; 0 = as much as the disk takes */
  maxBytes: number
  /** longest line replay reads into memory (default 256 MiB); a longer one is skipped, its rows dropped */
  maxLineBytes?: number
  /** rows of a line that cannot be replayed (torn, or too long to read), counted by the exporter */
  onDrop?: (rows: number) => void
  log?: SpoolLog
}

interface Segment {
  seq: number
  path: string
  bytes: number
  /** bytes and lines of it already replayed (and acknowledged) by this process: where the next replay starts */
  offset: number
  lines: number
}

// Large enough to keep files few; replay reads them line by line, so size is not memory.
const SEGMENT_BYTES = 8 * 1024 * 1024
const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024
const READ_CHUNK_BYTES = 1024 * 1024
// A key only request_logs rows have, and only as a key: a quote inside a JSON string is escaped.
const REQUEST_LOG_KEY = Buffer.from('"request_at":')
const SEGMENT_NAME = /^segment-(\d{12})\.jsonl$/
// Spooled rows are request logs (and, for tokens that opted in, conversations): for this user's eyes only.
const PRIVATE_DIR = 0o700
const PRIVATE_FILE = 0o600

export class Spool {
  readonly dir: string
  readonly #rejectedDir: string
  readonly #maxBytes: number
  readonly #maxLineBytes: number
  readonly #onDrop: ((rows: number) => void) | undefined
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

  constructor(dir: string, opts: SpoolOptions) {
    this.dir = dir
    this.#rejectedDir = join(dir, 'rejected')
    this.#maxBytes = opts.maxBytes > 0 ? opts.maxBytes : Infinity
    this.#maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
    this.#onDrop = opts.onDrop
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

  /** Keeps a row ClickHouse refused under rejected/ (with its table and the reason), out of the replay's way. Returns the file. */
  async reject(refused: RejectedRow): Promise<string> {
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${refused.token.replace(/[^A-Za-z0-9-]/g, '_')}.json`
    return this.#setAside(name, JSON.stringify(refused) + '\n')
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
      for await (const line of readLines(segment.path, segment.offset, this.#maxLineBytes)) {
        const batch = line.text === undefined ? undefined : parseBatch(line.text)
        if (line.text === undefined) this.#skipLong(segment, line)
        else if (!batch) await this.#setAsideCorrupt(segment, line.text)
        else if ((await deliver(batch)) === 'stop') return
        segment.offset = line.end
        segment.lines++
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
        found.push({ seq: Number(match[1]), path, bytes: info.size, offset: 0, lines: 0 })
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
      this.#active = { seq, path: join(this.dir, `segment-${pad(seq)}.jsonl`), bytes: 0, offset: 0, lines: 0 }
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
    const rows = countRows(Buffer.from(line))
    this.#onDrop?.(rows)
    const where = { segment: segment.seq, line: segment.lines + 1, bytes: Buffer.byteLength(line), rows }
    try {
      const file = await this.#setAside(`segment-${pad(segment.seq)}-line-${where.line}.corrupt`, line)
      this.#log?.warn({ ...where, file }, 'spool: skipped a line that does not parse (a write cut short by a crash)')
    } catch (err) {
      this.#log?.warn({ ...where, err: describeIoError(err) }, 'spool: skipped a line that does not parse, and could not keep a copy of it')
    }
  }

  /** A line too long to read into memory: skipped, its rows counted as dropped, no copy kept. */
  #skipLong(segment: Segment, line: Line): void {
    this.#onDrop?.(line.rows)
    this.#log?.warn(
      { segment: segment.seq, line: segment.lines + 1, bytes: line.end - line.start, rows: line.rows, maxLineBytes: this.#maxLineBytes },
      'spool: skipped a line too long to read; its rows are dropped',
    )
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

/** One line of a segment: its text, or (longer than the limit) only how many rows it held. */
interface Line {
  text: string | undefined
  /** byte offsets of its start and of what follows its newline */
  start: number
  end: number
  rows: number
}

/**
 * The lines of a file from `offset`, read a chunk at a time: memory holds one line at most, and never
 * more than maxLineBytes of one (past that the line is only counted through). A last line without its
 * newline (a torn write) is yielded too. A file gone is empty.
 */
async function* readLines(path: string, offset: number, maxLineBytes: number): AsyncGenerator<Line> {
  const file = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (!file) return
  try {
    const chunk = Buffer.alloc(READ_CHUNK_BYTES)
    // the line so far, while it fits; past the limit only its row count, and its last bytes for a key cut across reads
    let parts: Buffer[] = []
    let held = 0
    let skipping = false
    let rows = 0
    let tail = Buffer.alloc(0)
    let start = offset
    let position = offset
    const line = (end: number): Line | undefined =>
      skipping ? { text: undefined, start, end, rows } : held > 0 ? { text: Buffer.concat(parts).toString('utf8'), start, end, rows: 0 } : undefined
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position)
      if (bytesRead === 0) break
      for (let from = 0; from < bytesRead; ) {
        const newline = chunk.subarray(0, bytesRead).indexOf(0x0a, from)
        const to = newline === -1 ? bytesRead : newline
        const part = chunk.subarray(from, to)
        if (!skipping && held + part.length > maxLineBytes) {
          skipping = true
          tail = Buffer.concat(parts)
          parts = []
        }
        if (skipping) {
          const window = Buffer.concat([tail, part])
          rows += countRows(window)
          tail = window.subarray(Math.max(0, window.length - REQUEST_LOG_KEY.length + 1))
        } else {
          parts.push(Buffer.from(part))
          held += part.length
        }
        if (newline === -1) break
        const end = position + to + 1
        const done = line(end)
        if (done) yield done
        ;[parts, held, skipping, rows, tail, start, from] = [[], 0, false, 0, Buffer.alloc(0), end, to + 1]
      }
      position += bytesRead
    }
    const last = line(position)
    if (last) yield last
  } finally {
    await file.close()
  }
}

/** The request_logs rows in (part of) a spooled batch's JSON. */
function countRows(json: Buffer): number {
  let n = 0
  for (let at = json.indexOf(REQUEST_LOG_KEY); at !== -1; at = json.indexOf(REQUEST_LOG_KEY, at + 1)) n++
  return n
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
