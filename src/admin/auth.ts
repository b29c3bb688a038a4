import type { FastifyRequest } from 'fastify'
import { GatewayError } from '../http/errors.ts'
import { MIN_ADMIN_KEY_CHARS, secretsEqual } from '../secrets.ts'
import type { FailedAttempts } from './failed-attempts.ts'
import type { SessionStore } from './session-store.ts'

export const SESSION_COOKIE = 'ccproxy_session'
/** Sent by the web app on every call: a page on another site cannot set it without a CORS preflight, which fails. */
export const CSRF_HEADER = 'x-ccproxy-csrf'

/**
 * The admin API's door: X-Admin-Key, or the web app's session cookie.
 *
 * X-Admin-Key is compared in constant time and never taken from the query string (it would end up in logs).
 * Wrong keys count against the client's address (req.ip: X-Forwarded-For only from server.trusted_proxies);
 * a locked address gets 429 with Retry-After before its key is even looked at.
 *
 * A session cookie is 256 random bits, nothing to guess, so it is not subject to the lock; a request it
 * authenticates that changes state must also pass the cross-site check (refuseCrossSite).
 */
export function requireAdmin(adminKey: string, attempts: FailedAttempts, sessions?: SessionStore) {
  // Fails closed even for code that did not go through ensureSecrets: an empty key would match an empty header.
  if ([...adminKey].length < MIN_ADMIN_KEY_CHARS) throw new Error(`the admin key must be at least ${MIN_ADMIN_KEY_CHARS} characters`)
  return async (req: FastifyRequest) => {
    const session = sessions && req.headers['x-admin-key'] === undefined ? sessionCookie(req) : undefined
    if (session !== undefined) {
      if (sessions!.expiresAt(session) === undefined) throw new GatewayError(401, 'session expired')
      refuseCrossSite(req)
      return
    }
    checkAdminKey(req, req.headers['x-admin-key'], adminKey, attempts, 'invalid or missing admin key')
  }
}

/** 429 while the address is locked; a wrong key is counted and answered 401 `wrongKey`; a missing one 401 uncounted. */
export function checkAdminKey(req: FastifyRequest, given: unknown, adminKey: string, attempts: FailedAttempts, wrongKey: string): void {
  const wait = attempts.lockedFor(req.ip)
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000)
    throw new GatewayError(429, `too many wrong admin keys from this address; try again in ${seconds}s`, { headers: { 'retry-after': String(seconds) } })
  }
  if (typeof given !== 'string' || given === '') throw new GatewayError(401, 'invalid or missing admin key')
  if (!secretsEqual(given, adminKey)) {
    attempts.fail(req.ip)
    throw new GatewayError(401, wrongKey)
  }
}

/**
 * Cookie-authenticated requests that change state must come from the app itself: they carry
 * X-CCProxy-CSRF: 1, and an Origin, when the browser sends one, that is this server's own. SameSite=Strict
 * already keeps the cookie off cross-site requests; this holds also for same-site pages on other ports or
 * subdomains, and for browsers that do not honour SameSite.
 */
export function refuseCrossSite(req: FastifyRequest): void {
  if (req.method === 'GET' || req.method === 'HEAD') return
  if (req.headers[CSRF_HEADER] !== '1' || foreignOrigin(req)) throw new GatewayError(403, 'cross-site request refused')
}

/** An Origin header that is not this server's own (scheme, host and port as the client reached them). */
export function foreignOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin
  return origin !== undefined && origin !== `${req.protocol}://${req.host}`
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/**
 * The session cookie's value, or undefined without one. A value of the wrong shape is returned too (as an
 * id no session has), so the answer is "session expired", not "missing key".
 */
export function sessionCookie(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue
    const value = part.slice(eq + 1).trim()
    return SESSION_ID.test(value) ? value : ''
  }
  return undefined
}
