import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici'
import type { AccountPool, UpstreamAccount } from '../accounts/pool.ts'
import type { Exchange } from '../record/exchange.ts'
import { Tracing } from '../sinks/tracing.ts'
import { GatewayError } from '../http/errors.ts'
import { applyBetaPolicy, DROPPED_BETAS_HEADER, type BetaPolicy } from './betas.ts'
import { classify, moreMeaningful } from './failover.ts'

type Body = Dispatcher.ResponseData['body']

/** The answer to one upstream call, after failing over between accounts where that was the right thing to do. */
export type UpstreamResult =
  /** an answer from upstream to relay: a success with its body still streaming, or an error the client must see */
  | { kind: 'response'; status: number; headers: Record<string, string>; body: Body; account: UpstreamAccount }
  /** the last failure after every attempt, with its (small) error body read */
  | { kind: 'failed'; status: number; headers: Record<string, string>; errorBody: Buffer; account: UpstreamAccount }
  /** no account could be tried: none is configured, none is active, or all are resting */
  | { kind: 'no_account'; why: 'none' | 'inactive' | 'resting'; retryAfterMs: number }
  /** every account tried refused its credentials with a 401 (the account's problem, not the client's) */
  | { kind: 'auth_failed' }
  /** connection errors or timeouts on every attempt */
  | { kind: 'unreachable'; message: string }

export interface UpstreamOptions {
  apiUrl: string
  maxAttempts: number
  connectTimeoutMs: number
  firstByteTimeoutMs: number
  idleTimeoutMs: number
  /** claude.beta_policy and claude.beta_allow_list */
  betaPolicy: 'forward' | 'allow_list'
  betaAllowList: readonly string[]
}

/**
 * Request headers that travel upstream; the caller's credentials never do (the account's key replaces them).
 * Of the anthropic-* headers only the version and the betas: the others (anthropic-workspace-id…) concern
 * the account, which is the gateway's, and one that does not match its key could get the key refused.
 */
const FORWARDED_REQUEST = /^(anthropic-version$|anthropic-beta$|x-stainless-|x-claude-code-|content-type$|accept$|user-agent$|x-app$)/
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
 * gone to the client: a 401 rests the account and tries the next; 403, 429, 529, 5xx and connection errors
 * try the next (failover.ts says why, and which failure the client sees when all fail); any other answer
 * (a 400, a success) is final. There is no total timeout, only a connect timeout, a time-to-first-byte
 * timeout and an idle timeout between chunks, so a long generation is never cut.
 */
export class Upstream {
  readonly #agent: Agent
  readonly #apiUrl: URL
  readonly #betas: BetaPolicy

  constructor(
    private readonly opts: UpstreamOptions,
    private readonly pool: AccountPool,
    private readonly tracing: Tracing = Tracing.off(),
  ) {
    this.#apiUrl = new URL(opts.apiUrl)
    this.#betas = opts.betaPolicy === 'allow_list' ? { policy: 'allow_list', allowed: new Set(opts.betaAllowList) } : { policy: 'forward' }
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
    let last: Extract<UpstreamResult, { kind: 'failed' | 'auth_failed' | 'unreachable' }> | undefined
    const { headers: requestHeaders, dropped } = applyBetaPolicy(req.headers, this.#betas)
    const droppedHeader: Record<string, string> = dropped.length > 0 ? { [DROPPED_BETAS_HEADER]: dropped.join(',') } : {}
    // One span for the whole call, failovers included; every attempt carries its traceparent.
    const traceHeaders = this.tracing.begin(exchange, this.#apiUrl)
    while (tried.size < this.opts.maxAttempts) {
      const pick = this.pool.pick(tried)
      if (!pick.account) return last ? settle(last, exchange) : { kind: 'no_account', why: this.whyNoAccount(), retryAfterMs: pick.retryAfterMs }
      const account = pick.account
      tried.add(account.id)
      exchange.attempts++
      exchange.accountId = account.id
      const release = this.pool.acquire(account.id)
      let res: Dispatcher.ResponseData
      try {
        res = await this.#request(this.url(req.path), {
          dispatcher: this.#agent,
          method: req.method,
          headers: { ...requestHeaders, ...traceHeaders, 'x-api-key': account.apiKey },
          body: req.body ?? null,
          signal: req.signal,
        })
      } catch (err) {
        release()
        if (req.signal.aborted) throw err
        const message = describeConnectionError(err)
        this.pool.report(account.id, { kind: 'connection_error', message })
        last = moreMeaningful(last, { kind: 'unreachable', message })
        continue
      }
      const headers = { ...relayable(res.headers), ...droppedHeader }
      exchange.upstreamRequestId = headers['request-id'] ?? null
      if (res.statusCode < 400) {
        this.pool.report(account.id, { kind: 'success' })
        res.body.once('close', release)
        return { kind: 'response', status: res.statusCode, headers, body: res.body, account }
      }
      const errorBody = Buffer.from(await res.body.arrayBuffer().catch(() => new ArrayBuffer(0)))
      release()
      const failed = { kind: 'failed' as const, status: res.statusCode, headers, errorBody, account }
      switch (classify(res.statusCode)) {
        case 'key_refused':
          this.pool.report(account.id, { kind: 'auth_failure' })
          last = moreMeaningful(last, { kind: 'auth_failed' })
          break
        case 'not_permitted':
          this.pool.report(account.id, { kind: 'not_permitted' })
          last = moreMeaningful(last, failed)
          break
        case 'rate_limited':
          this.pool.report(account.id, { kind: 'rate_limited', ...optional('retryAfterMs', retryAfterMs(headers)) })
          last = moreMeaningful(last, failed)
          break
        case 'upstream_error':
          this.pool.report(account.id, { kind: 'overloaded', status: res.statusCode })
          last = moreMeaningful(last, failed)
          break
        case 'final':
          return failed
      }
    }
    return settle(last!, exchange)
  }

  /**
   * One request; sent once more when the connection closed before any answer. A pooled keep-alive connection
   * the upstream closed as idle, just as it was reused, is the common case: the request never reached it, and it
   * is no fault of the account's. A second failure is the account's (failover).
   */
  async #request(url: URL, opts: { dispatcher: Dispatcher; method: 'GET' | 'POST'; headers: Record<string, string>; body: Buffer | string | null; signal: AbortSignal }): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, opts)
    } catch (err) {
      if (opts.signal.aborted || !(err instanceof undiciErrors.SocketError)) throw err
      return request(url, opts)
    }
  }

  private whyNoAccount(): 'none' | 'inactive' | 'resting' {
    const { accounts } = this.pool
    return accounts.length === 0 ? 'none' : accounts.some((a) => a.isActive) ? 'resting' : 'inactive'
  }

  /** The upstream URL of a path, under any path prefix claude.api_url has (a corporate proxy's, say). */
  private url(path: string): URL {
    return new URL(this.#apiUrl.pathname.replace(/\/$/, '') + path, this.#apiUrl)
  }

  close(): Promise<void> {
    return this.#agent.close()
  }
}

/** The record names the account and request id of the answer the client gets, not those of the last attempt. */
function settle<R extends UpstreamResult>(result: R, exchange: Exchange): R {
  if (result.kind === 'failed') {
    exchange.accountId = result.account.id
    exchange.upstreamRequestId = result.headers['request-id'] ?? null
  }
  return result
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
      // Only resting accounts come back by themselves; with none configured or active a retry cannot help,
      // and x-should-retry: false stops both SDKs retrying.
      if (result.why === 'resting') {
        return new GatewayError(503, 'every upstream account is resting after recent failures; retry later', {
          type: 'overloaded_error',
          headers: { 'retry-after': String(Math.ceil(result.retryAfterMs / 1000)) },
        })
      }
      return new GatewayError(
        503,
        result.why === 'none'
          ? 'the gateway has no upstream account configured: its administrator must set claude.api_keys or add one with POST /api/account/apikey'
          : 'every upstream account of the gateway is deactivated: its administrator must activate one',
        { type: 'api_error', code: 'no_upstream_account', headers: { 'x-should-retry': 'false' } },
      )
    case 'auth_failed':
      return new GatewayError(502, 'every upstream account tried was refused by Anthropic (401); the gateway administrator must check the account keys', { type: 'api_error' })
    case 'unreachable':
      return new GatewayError(502, `upstream unreachable: ${result.message}`, { type: 'api_error' })
  }
}
