/**
 * Which upstream account serves the next request, and what each account's recent answers say about it.
 * Health is per replica and in memory: an account that failed is rested for a while and then tried again,
 * never dropped for good (the Go version lost accounts forever after one 429).
 */
export type KeyStrategy = 'round_robin' | 'random' | 'least_loaded'

export interface UpstreamAccount {
  id: string
  name: string
  type: 'api_key'
  apiKey: string
  priority: number
  isActive: boolean
  source: 'config' | 'stored'
}

export type Outcome =
  | { kind: 'success' }
  /** 401: the key itself was refused */
  | { kind: 'auth_failure' }
  /** 403: the key may not do what one request asked; says nothing about the next request */
  | { kind: 'not_permitted' }
  | { kind: 'rate_limited'; retryAfterMs?: number }
  | { kind: 'overloaded'; status: number }
  | { kind: 'connection_error'; message: string }

export interface AccountHealth {
  status: 'healthy' | 'cooling_down' | 'unhealthy'
  cooldown_until: Date | null
  last_error: string | null
  last_error_at: Date | null
  last_used_at: Date | null
  success_count: number
  error_count: number
  in_flight: number
}

/**
 * What an operator is told about an account: its condition changes (refused, unreachable, failing with
 * repeated 5xx, back to ok) are reported once each, not once per failed request.
 */
export type AccountCondition = 'ok' | 'refused' | 'unreachable' | 'failing'

export interface ConditionChange {
  id: string
  name: string
  from: AccountCondition
  to: AccountCondition
  /** the failure that caused the change (null on recovery) */
  detail: string | null
}

/** One log line's text for a condition change. */
export function describeChange(c: ConditionChange): string {
  return c.to === 'ok' ? `upstream account ${c.name} is answering again` : `upstream account ${c.name} is ${c.to}: ${c.detail}`
}

interface State {
  condition: AccountCondition
  /** consecutive 5xx/529 answers */
  serverErrors: number
  until: number
  reason: 'auth' | 'rate_limit' | 'connection' | null
  authFailures: number
  lastError: string | null
  lastErrorAt: number | null
  lastUsedAt: number | null
  successes: number
  errors: number
  inFlight: number
}

const CONNECTION_COOLDOWN_MS = 5_000
/** consecutive 5xx answers after which an account counts as failing (one is the service's hiccup) */
const FAILING_AFTER = 3
const MAX_AUTH_COOLDOWN_MS = 3_600_000

export class AccountPool {
  #accounts: UpstreamAccount[] = []
  readonly #state = new Map<string, State>()
  #cursor = 0
  /** told of every condition change (the server logs them) */
  onChange?: (change: ConditionChange) => void

  constructor(
    private readonly opts: {
      strategy: KeyStrategy
      authFailureCooldownMs: number
      rateLimitCooldownMs: number
      now?: () => number
      random?: () => number
    },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now()
  }

  /** Replaces the set of accounts, keeping what is known about those that stay. */
  setAccounts(accounts: UpstreamAccount[]): void {
    this.#accounts = accounts
    const ids = new Set(accounts.map((a) => a.id))
    for (const id of this.#state.keys()) if (!ids.has(id)) this.#state.delete(id)
  }

  get accounts(): readonly UpstreamAccount[] {
    return this.#accounts
  }

  private state(id: string): State {
    let s = this.#state.get(id)
    if (!s) {
      s = { condition: 'ok', serverErrors: 0, until: 0, reason: null, authFailures: 0, lastError: null, lastErrorAt: null, lastUsedAt: null, successes: 0, errors: 0, inFlight: 0 }
      this.#state.set(id, s)
    }
    return s
  }

  /**
   * Picks an active account that is not resting and not in `exclude`, from the best (lowest) priority
   * present, by the configured strategy. When none is available, says how long until one should be.
   */
  pick(exclude: ReadonlySet<string> = new Set()): { account: UpstreamAccount } | { account: undefined; retryAfterMs: number } {
    const now = this.now()
    const usable = this.#accounts.filter((a) => a.isActive && !exclude.has(a.id))
    const ready = usable.filter((a) => this.state(a.id).until <= now)
    if (ready.length === 0) {
      const next = Math.min(...usable.map((a) => this.state(a.id).until))
      return { account: undefined, retryAfterMs: Number.isFinite(next) ? Math.max(1000, next - now) : 30_000 }
    }
    const best = Math.min(...ready.map((a) => a.priority))
    const tier = ready.filter((a) => a.priority === best)
    return { account: this.choose(tier) }
  }

  private choose(tier: UpstreamAccount[]): UpstreamAccount {
    switch (this.opts.strategy) {
      case 'random':
        return tier[Math.floor((this.opts.random ?? Math.random)() * tier.length)]!
      case 'least_loaded':
        return tier.reduce((a, b) => (this.state(b.id).inFlight < this.state(a.id).inFlight ? b : a))
      case 'round_robin':
        return tier[this.#cursor++ % tier.length]!
    }
  }

  /** Counts a request in flight on the account until the returned function is called. */
  acquire(id: string): () => void {
    const s = this.state(id)
    s.inFlight++
    s.lastUsedAt = this.now()
    let released = false
    return () => {
      if (!released) s.inFlight--
      released = true
    }
  }

  report(id: string, outcome: Outcome): void {
    const s = this.state(id)
    const now = this.now()
    if (outcome.kind === 'success') {
      s.successes++
      s.authFailures = 0
      s.serverErrors = 0
      if (s.until <= now) s.reason = null
      this.become(id, s, 'ok')
      return
    }
    s.errors++
    s.lastErrorAt = now
    switch (outcome.kind) {
      case 'auth_failure':
        // The key was refused: rest it, longer each time it is refused again, up to an hour.
        s.authFailures++
        s.lastError = 'upstream refused the credentials (401)'
        this.rest(s, 'auth', Math.min(this.opts.authFailureCooldownMs * 2 ** (s.authFailures - 1), MAX_AUTH_COOLDOWN_MS))
        this.become(id, s, 'refused')
        break
      case 'rate_limited':
        s.lastError = 'rate limited (429)'
        this.rest(s, 'rate_limit', outcome.retryAfterMs ?? this.opts.rateLimitCooldownMs)
        break
      case 'connection_error':
        s.lastError = `connection failed: ${outcome.message}`
        this.rest(s, 'connection', CONNECTION_COOLDOWN_MS)
        this.become(id, s, 'unreachable')
        break
      case 'not_permitted':
        // Counted for the admin view, never rested: a client could otherwise bench every account with one
        // request for a model or beta the keys may not use.
        s.lastError = 'upstream refused a request as not permitted (403)'
        break
      case 'overloaded':
        // 529 and 5xx say the service is struggling, not this account: move on without resting it.
        s.lastError = `upstream error (${outcome.status})`
        if (++s.serverErrors >= FAILING_AFTER) this.become(id, s, 'failing')
        break
    }
  }

  private become(id: string, s: State, to: AccountCondition): void {
    if (s.condition === to) return
    const from = s.condition
    s.condition = to
    const name = this.#accounts.find((a) => a.id === id)?.name ?? id
    this.onChange?.({ id, name, from, to, detail: to === 'ok' ? null : s.lastError })
  }

  private rest(s: State, reason: State['reason'], ms: number): void {
    s.until = Math.max(s.until, this.now() + ms)
    s.reason = reason
  }

  health(id: string): AccountHealth {
    const s = this.state(id)
    const resting = s.until > this.now()
    return {
      status: !resting ? 'healthy' : s.reason === 'auth' ? 'unhealthy' : 'cooling_down',
      cooldown_until: resting ? new Date(s.until) : null,
      last_error: s.lastError,
      last_error_at: s.lastErrorAt === null ? null : new Date(s.lastErrorAt),
      last_used_at: s.lastUsedAt === null ? null : new Date(s.lastUsedAt),
      success_count: s.successes,
      error_count: s.errors,
      in_flight: s.inFlight,
    }
  }
}
