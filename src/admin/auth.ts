import type { FastifyRequest } from 'fastify'
import { GatewayError } from '../gateway/errors.ts'
import { secretsEqual } from '../secrets.ts'

/** X-Admin-Key, compared in constant time. Never taken from the query string (it would end up in logs). */
export function requireAdmin(adminKey: string) {
  return async (req: FastifyRequest) => {
    const given = req.headers['x-admin-key']
    if (typeof given !== 'string' || !secretsEqual(given, adminKey)) {
      throw new GatewayError(401, 'invalid or missing admin key')
    }
  }
}
