import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { brotliCompress, gzip, constants } from 'node:zlib'
import { negotiateEncoding } from '../http/encoding.ts'

const brotli = promisify(brotliCompress)
const gzipped = promisify(gzip)

const TEXT = /^(text\/|application\/(json|javascript|manifest\+json|wasm)|image\/svg\+xml)/
const MIN_BYTES = 1024
const MAX_FILE_BYTES = 8 * 1024 ** 2

const ENCODINGS = ['br', 'gzip'] as const
export type Encoding = (typeof ENCODINGS)[number]

/**
 * The app's text files compressed once and kept: brotli or gzip as the client accepts. The build's files
 * only change when it is rebuilt, so an entry is keyed by path, size and mtime, and the cache is bounded in
 * bytes (the oldest entries go first). The work runs on libuv's thread pool, off the event loop.
 */
export class Compressed {
  readonly #entries = new Map<string, Promise<Buffer>>()
  readonly #sizes = new Map<string, number>()
  #bytes = 0

  constructor(private readonly maxBytes = 32 * 1024 ** 2) {}

  static worthIt(type: string, size: number): boolean {
    return TEXT.test(type) && size >= MIN_BYTES && size <= MAX_FILE_BYTES
  }

  /** The file in the best encoding the client accepts, or undefined to send it as it is. */
  async get(path: string, file: { size: number; mtimeMs: number }, type: string, acceptEncoding: string | undefined): Promise<{ encoding: Encoding; body: Buffer } | undefined> {
    if (!Compressed.worthIt(type, file.size)) return undefined
    // br over gzip when both are accepted
    const encoding = negotiateEncoding(acceptEncoding, ENCODINGS)
    if (!encoding) return undefined
    const key = `${encoding}:${path}:${file.size}:${file.mtimeMs}`
    let entry = this.#entries.get(key)
    if (!entry) {
      entry = readFile(path).then((raw) =>
        encoding === 'br' ? brotli(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }) : gzipped(raw, { level: 9 }),
      )
      this.#entries.set(key, entry)
      entry.then(
        (body) => this.#account(key, body.length),
        () => this.#entries.delete(key),
      )
    }
    return { encoding, body: await entry }
  }

  #account(key: string, bytes: number): void {
    if (!this.#entries.has(key)) return
    this.#sizes.set(key, bytes)
    this.#bytes += bytes
    for (const [old, size] of this.#sizes) {
      if (this.#bytes <= this.maxBytes) break
      this.#sizes.delete(old)
      this.#entries.delete(old)
      this.#bytes -= size
    }
  }
}
