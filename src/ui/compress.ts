import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { brotliCompress, gzip, constants } from 'node:zlib'

const brotli = promisify(brotliCompress)
const gzipped = promisify(gzip)

const TEXT = /^(text\/|application\/(json|javascript|manifest\+json|wasm)|image\/svg\+xml)/
const MIN_BYTES = 1024
const MAX_FILE_BYTES = 8 * 1024 ** 2

export type Encoding = 'br' | 'gzip'

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
    const encoding = preferred(acceptEncoding)
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

/** br over gzip when both are accepted (q=0 refuses one); nothing else is offered. */
export function preferred(acceptEncoding: string | undefined): Encoding | undefined {
  if (!acceptEncoding) return undefined
  const accepted = new Map<string, number>()
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean)
    accepted.set(name.trim(), q ? Number(q[1]) : 1)
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0
  if (ok('br')) return 'br'
  if (ok('gzip')) return 'gzip'
  return undefined
}
