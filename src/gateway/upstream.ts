import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici'
import type { AccountPool, UpstreamAccount } from '../accounts/pool.ts'
import type { Exchange } from '../record/exchange.ts'
import { Tracing } from '../sinks/tracing.ts'
import { GatewayError } from './errors.ts'

type Body = Dispatcher.ResponseData['body']

/** The answer to one upstream call, after failing over between accounts where that was the right thing to do. */
export type UpstreamResult =
  /** an answer from upstream to relay: a success with its body still streaming, or an error the client must see */
  | { kind: 'response'; status: number; headers: Record<string, string>; body: Body; account: UpstreamAccount }
  /** the last failure after every attempt, with its (small) error body read */
  | { kind: 'failed'; status: number; headers: Record<string, string>; errorBody: Buffer; account: UpstreamAccount }
  /** no account could be tried: all are resting or inactive */
  | { kind: 'no_account'; retryAfterMs: number }
  /** every account tried refused its credentials (the account's problem, not the client's) */
  | { kind: 'auth_failed'; status: number }
  /** connection errors or timeouts on every attempt */
  | { kind: 'unreachable'; message: string }

export interface UpstreamOptions {
  apiUrl: string
  maxAttempts: number
  connectTimeoutMs: number
  firstByteTimeoutMs: number
  idleTimeoutMs: number
}

/** Request headers that travel upstream; the caller's credentials never do (the account's key replaces them). */
const FORWARDED_REQUEST = /^(anthropic-|x-stainless-|x-claude-code-|content-type$|accept$|user-agent$|x-app$)/
/** Response headers worth relaying to the client. */
const RELAYED_RESPONSE = /^(content-type$|request-id$|retry-after$|retry-after-ms$|x-should-retry$|anthropic-)/

export function forwardableHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && FORWARDED_REQUEST.test(name)) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

function relayable(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && RELAYED_RESPONSE.test(name)) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

function retryAfterMs(headers: Record<string, string>): number | undefined {
  const ms = Number(headers['retry-after-ms'])
  if (Number.isFinite(ms) && ms > 0) return ms
  const s = Number(headers['retry-after'])
  return Number.isFinite(s) && s > 0 ? s * 1000 : undefined
}

/**
 * Calls the Anthropic API with pooled keep-alive connections. Failover happens only before any byte has
 * gone to the client: 401/403 rest the account and try the next; 429, 529, 5xx and connection errors try
 * the next; any other answer (a 400, a success) is final. There is no total timeout, only a connect timeout,
 * a time-to-first-byte timeout and an idle timeout between chunks, so a long generation is never cut.
 */
export class Upstream {
  readonly #agent: Agent
  readonly #apiUrl: URL

  constructor(
    private readonly opts: UpstreamOptions,
    private readonly pool: AccountPool,
    private readonly tracing: Tracing = Tracing.off(),
  ) {
    this.#apiUrl = new URL(opts.apiUrl)
    this.#agent = new Agent({
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.firstByteTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
      keepAliveTimeout: 30_000,
      // No cap on connections to the upstream: each stream holds one for the whole generation, and a cap
      // would queue the next client behind a minute-long answer. Clients bound the concurrency.
      connections: null,
    })
  }

  async send(
    req: { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: Buffer | string; signal: AbortSignal },
    exchange: Exchange,
  ): Promise<UpstreamResult> {
    const tried = new Set<string>()
    let last: UpstreamResult | undefined
    // One span for the whole call, failovers included; every attempt carries its traceparent.
    const traceHeaders = this.tracing.begin(exchange, this.#apiUrl)
    while (tried.size < this.opts.maxAttempts) {
      const pick = this.pool.pick(tried)
      if (!pick.account) return last ?? { kind: 'no_account', retryAfterMs: pick.retryAfterMs }
      const account = pick.account
      tried.add(account.id)
      exchange.attempts++
      exchange.accountId = account.id
      const release = this.pool.acquire(account.id)
      let res: Dispatcher.ResponseData
      try {
        res = await request(this.url(req.path), {
          dispatcher: this.#agent,
          method: req.method,
          headers: { ...req.headers, ...traceHeaders, 'x-api-key': account.apiKey },
          body: req.body ?? null,
          signal: req.signal,
        })
      } catch (err) {
        release()
        if (req.signal.aborted) throw err
        const message = describeConnectionError(err)
        this.pool.report(account.id, { kind: 'connection_error', message })
        last = { kind: 'unreachable', message }
        continue
      }
      const headers = relayable(res.headers)
      exchange.upstreamRequestId = headers['request-id'] ?? null
      if (res.statusCode < 400) {
        this.pool.report(account.id, { kind: 'success' })
        res.body.once('close', release)
        return { kind: 'response', status: res.statusCode, headers, body: res.body, account }
      }
      const errorBody = Buffer.from(await res.body.arrayBuffer().catch(() => new ArrayBuffer(0)))
      release()
      const failed = { kind: 'failed' as const, status: res.statusCode, headers, errorBody, account }
      if (res.statusCode === 401 || res.statusCode === 403) {
        this.pool.report(account.id, { kind: 'auth_failure', status: res.statusCode })
        last = { kind: 'auth_failed', status: res.statusCode }
      } else if (res.statusCode === 429) {
        this.pool.report(account.id, { kind: 'rate_limited', ...optional('retryAfterMs', retryAfterMs(headers)) })
        last = failed
      } else if (res.statusCode >= 500) {
        this.pool.report(account.id, { kind: 'overloaded', status: res.statusCode })
        last = failed
      } else {
        // The request itself was refused (400, 404, 413…): another account would refuse it too.
        return failed
      }
    }
    return last!
  }

  /** The upstream URL of a path, under any path prefix claude.api_url has (a corporate proxy's, say). */
  private url(path: string): URL {
    return new URL(this.#apiUrl.pathname.replace(/\/$/, '') + path, this.#apiUrl)
  }

  close(): Promise<void> {
    return this.#agent.close()
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

export function describeConnectionError(err: unknown): string {
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect timeout'
  if (err instanceof undiciErrors.HeadersTimeoutError) return 'no response before the first-byte timeout'
  if (err instanceof undiciErrors.BodyTimeoutError) return 'upstream went silent (idle timeout)'
  const e = err as { code?: string; cause?: { code?: string }; message?: string }
  return e.cause?.code ?? e.code ?? e.message ?? 'connection error'
}

/** The error a client sees when upstream gave no answer worth relaying. */
export function unavailable(result: Extract<UpstreamResult, { kind: 'no_account' | 'auth_failed' | 'unreachable' }>): GatewayError {
  switch (result.kind) {
    case 'no_account':
      return new GatewayError(503, 'no upstream account is available right now; retry later', {
        type: 'overloaded_error',
        headers: { 'retry-after': String(Math.ceil(result.retryAfterMs / 1000)) },
      })
    case 'auth_failed':
      return new GatewayError(502, `every upstream account tried was refused by Anthropic (${result.status}); the gateway administrator must check the account keys`, { type: 'api_error' })
    case 'unreachable':
      return new GatewayError(502, `upstream unreachable: ${result.message}`, { type: 'api_error' })
  }
}
