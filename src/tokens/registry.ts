import type { TokenRow, TokenStore } from '../warehouse/tokens.ts'

/**
 * Token state as the request path needs it, in memory: every token with its revocation, read again in the
 * background every `ttlMs`, so authenticating a request does no ClickHouse round trip — a slow dashboard, an
 * export or an outage never makes a client wait — while a revocation on any replica is seen within the TTL
 * (a row comes with its revocation, from the append-only token_revocations). When ClickHouse cannot be read,
 * the tokens already known keep working. A token this replica has not seen yet (minted on another one a moment
 * ago) is read on its own, at most once per `ttlMs`.
 * Also batches last-used times into one write a minute.
 */
export class TokenRegistry {
  #known = new Map<string, TokenRow>()
  /** tokens read one by one (not in the last refresh yet), with their read in flight */
  readonly #misses = new Map<string, { row: TokenRow | undefined; at: number; pending?: Promise<TokenRow | undefined> }>()
  /**
   * Changes made on this replica (a row remembered, or forgotten), with when: a refresh that started before a
   * change read the table before it, so the change wins over that refresh's row.
   */
  readonly #local = new Map<string, { at: number; row: TokenRow | undefined }>()
  /** last uses not written to ClickHouse yet */
  readonly #used = new Map<string, Date>()
  /** the latest use of each token seen on this replica: the admin API answers it before the minute's write lands */
  readonly #lastUse = new Map<string, Date>()
  #usageTimer: NodeJS.Timeout | undefined
  #refreshTimer: NodeJS.Timeout | undefined
  #refreshing: Promise<void> | undefined
  #failing = false

  constructor(
    private readonly store: TokenStore,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Reads every token once, then keeps them fresh every ttlMs; a failed read keeps the last state. */
  async start(): Promise<void> {
    await this.refresh()
    this.#refreshTimer ??= setInterval(() => void this.refresh().then(
      () => (this.#failing = false),
      (err) => {
        // said once per outage, not at every attempt
        if (!this.#failing) this.onError(new Error(`tokens cannot be read from ClickHouse; the ones known keep working: ${(err as Error)?.message ?? err}`, { cause: err }))
        this.#failing = true
      },
    ), Math.max(this.ttlMs, 100)).unref()
  }

  /** Reads every token now (one refresh at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined))
    return this.#refreshing
  }

  async #refresh(): Promise<void> {
    const started = this.now()
    const rows = await this.store.all()
    const known = new Map(rows.map((row) => [row.id, row]))
    for (const [id, change] of this.#local) {
      if (change.at < started) this.#local.delete(id)
      else if (change.row) known.set(id, change.row)
      else known.delete(id) // read on its own at its next use
    }
    this.#known = known
    for (const id of known.keys()) this.#misses.delete(id)
  }

  async get(id: string): Promise<TokenRow | undefined> {
    const known = this.#known.get(id)
    if (known) return known
    const hit = this.#misses.get(id)
    const now = this.now()
    if (hit && now - hit.at < this.ttlMs) return hit.pending ?? hit.row
    // One read per token at a time, however many requests arrive together.
    const pending = this.store.get(id).then(
      (row) => {
        // Not when forget() ran meanwhile: this read may predate a revocation made here.
        if (this.#misses.get(id)?.pending === pending) this.#misses.set(id, { row, at: this.now() })
        return row
      },
      (err) => {
        if (this.#misses.get(id)?.pending === pending) this.#misses.delete(id)
        throw err
      },
    )
    this.#misses.set(id, { row: hit?.row, at: now, pending })
    return pending
  }

  /** A token made on this replica, known at once. */
  remember(row: TokenRow): void {
    this.#known.set(row.id, row)
    this.#misses.delete(row.id)
    this.#local.set(row.id, { at: this.now(), row })
  }

  /** Drops what is known of a token, after a change made on this replica: the next request reads it again. */
  forget(id: string): void {
    this.#known.delete(id)
    this.#misses.delete(id)
    this.#local.set(id, { at: this.now(), row: undefined })
  }

  /** Whether this replica knows the token can no longer be used (revoked or expired); the metrics drop its series. */
  retired(id: string, now = Date.now()): boolean {
    const row = this.#known.get(id) ?? this.#misses.get(id)?.row
    return row !== undefined && (row.revoked_at !== null || row.expires_at.getTime() <= now)
  }

  markUsed(id: string, at = new Date()): void {
    this.#used.set(id, at)
    this.#lastUse.set(id, at)
    this.#usageTimer ??= setTimeout(() => void this.flushUsage(), 60_000).unref()
  }

  /** The later of a stored last-used time and this replica's latest use of the token. */
  lastUsed(id: string, stored: Date | null): Date | null {
    const seen = this.#lastUse.get(id)
    return seen && (!stored || seen > stored) ? seen : stored
  }

  async flushUsage(): Promise<void> {
    clearTimeout(this.#usageTimer)
    this.#usageTimer = undefined
    const uses = [...this.#used].map(([token_id, last_used_at]) => ({ token_id, last_used_at }))
    this.#used.clear()
    try {
      await this.store.recordLastUsed(uses)
    } catch (err) {
      this.onError(err)
    }
  }

  close(): Promise<void> {
    clearInterval(this.#refreshTimer)
    return this.flushUsage()
  }
}
