import type { TokenRow, TokenStore } from '../warehouse/tokens.ts'

/**
 * Token rows as the request path needs them: read from ClickHouse at most once per `ttlMs` per token, so
 * authentication costs no query on most requests while a revocation on any replica is seen within the TTL
 * (a row comes with its revocation, from the append-only token_revocations, so no cached or rewritten row
 * can outlive one by more than that).
 * Also batches last-used times into one write a minute.
 */
export class TokenRegistry {
  readonly #cache = new Map<string, { row: TokenRow | undefined; at: number; pending?: Promise<TokenRow | undefined> }>()
  readonly #used = new Map<string, Date>()
  #timer: NodeJS.Timeout | undefined

  constructor(
    private readonly store: TokenStore,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async get(id: string): Promise<TokenRow | undefined> {
    const hit = this.#cache.get(id)
    const now = Date.now()
    if (hit && now - hit.at < this.ttlMs) return hit.pending ?? hit.row
    // One read per token at a time, however many requests arrive together.
    const pending = this.store.get(id).then(
      (row) => {
        // Not when forget() ran meanwhile: this read may predate a revocation made here.
        if (this.#cache.get(id)?.pending === pending) this.#cache.set(id, { row, at: Date.now() })
        return row
      },
      (err) => {
        if (this.#cache.get(id)?.pending === pending) this.#cache.delete(id)
        throw err
      },
    )
    this.#cache.set(id, { row: hit?.row, at: now, pending })
    return pending
  }

  /** Drops the cached row, after a change made on this replica. */
  forget(id: string): void {
    this.#cache.delete(id)
  }

  markUsed(id: string, at = new Date()): void {
    this.#used.set(id, at)
    this.#timer ??= setTimeout(() => void this.flushUsage(), 60_000).unref()
  }

  async flushUsage(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const uses = [...this.#used].map(([token_id, last_used_at]) => ({ token_id, last_used_at }))
    this.#used.clear()
    try {
      await this.store.recordLastUsed(uses)
    } catch (err) {
      this.onError(err)
    }
  }

  close(): Promise<void> {
    return this.flushUsage()
  }
}
