/**
 * What an upstream error answer means for failover, and which failure the client sees when every attempt
 * failed. Pure functions: the Upstream loop applies them, tests read them as tables.
 */

/**
 * - key_refused (401): the account's key itself is refused. The account rests; the next one is tried.
 * - not_permitted (403): this key may not do what this request asks (a model, a beta, a feature). It depends
 *   on the request, so the account never rests; the next account is tried because accounts can belong to
 *   organisations with different permissions (and a key refused everything still leaves the others serving).
 * - rate_limited (429) and upstream_error (5xx, 529 included): the next account is tried.
 * - final (400, 404, 413…): the request itself is wrong; another account would say the same.
 */
export type ErrorClass = 'key_refused' | 'not_permitted' | 'rate_limited' | 'upstream_error' | 'final'

export function classify(status: number): ErrorClass {
  if (status === 401) return 'key_refused'
  if (status === 403) return 'not_permitted'
  if (status === 429) return 'rate_limited'
  if (status >= 500) return 'upstream_error'
  return 'final'
}

/** A failed attempt, as far as choosing between failures goes. */
export type AttemptFailure = { kind: 'failed'; status: number } | { kind: 'unreachable' } | { kind: 'auth_failed' }

/**
 * The client gets the failure it can do the most with: an answer that says "retry" before one that says
 * "stop", and upstream's own answer before the gateway's excuse. In order: a 429 (with upstream's
 * retry-after), a 5xx or 529, a 403, an unreachable upstream (502), keys refused (502). Among equals, the
 * later attempt's.
 */
function rank(failure: AttemptFailure): number {
  switch (failure.kind) {
    case 'failed':
      return failure.status === 429 ? 5 : failure.status >= 500 ? 4 : 3
    case 'unreachable':
      return 2
    case 'auth_failed':
      return 1
  }
}

export function moreMeaningful<F extends AttemptFailure>(current: F | undefined, next: F): F {
  return current !== undefined && rank(current) > rank(next) ? current : next
}
