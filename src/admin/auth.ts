import type { FastifyRequest } from 'fastify'
import { GatewayError } from '../http/errors.ts'
import { MIN_ADMIN_KEY_CHARS, secretsEqual } from '../secrets.ts'
import type { FailedAttempts } from './failed-attempts.ts'

/**
 * X-Admin-Key, compared in constant time. Never taken from the query string (it would end up in logs).
 * Wrong keys count against the client's address (req.ip: X-Forwarded-For only from server.trusted_proxies);
 * a locked address gets 429 with Retry-After before its key is even looked at.
 */
export function requireAdmin(adminKey: string, attempts: FailedAttempts) {
  // Fails closed even for code that did not go through ensureSecrets: an empty key would match an empty header.
  if ([...adminKey].length < MIN_ADMIN_KEY_CHARS) throw new Error(`the admin key must be at least ${MIN_ADMIN_KEY_CHARS} characters`)
  return async (req: FastifyRequest) => {
    const wait = attempts.lockedFor(req.ip)
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000)
      throw new GatewayError(429, `too many wrong admin keys from this address; try again in ${seconds}s`, { headers: { 'retry-after': String(seconds) } })
    }
    const given = req.headers['x-admin-key']
    if (typeof given !== 'string' || given === '') throw new GatewayError(401, 'invalid or missing admin key')
    if (!secretsEqual(given, adminKey)) {
      attempts.fail(req.ip)
      throw new GatewayError(401, 'invalid or missing admin key')
    }
  }
}
