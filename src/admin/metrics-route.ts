import type { FastifyInstance, FastifyRequest } from 'fastify'
import { secretsEqual } from '../secrets.ts'
import type { GatewayMetrics } from '../sinks/metrics.ts'

/**
 * GET <metrics.path>: the Prometheus exposition. Open when metrics.bearer_token is empty; otherwise the
 * scraper must send `Authorization: Bearer <token>` (compared in constant time), or it gets a 401 in the
 * admin routes' `{"error": …}` shape.
 */
export function metricsRoute(app: FastifyInstance, metrics: GatewayMetrics, opts: { path: string; bearerToken: string }): void {
  app.get(opts.path, async (req, reply) => {
    if (opts.bearerToken && !bearerMatches(req, opts.bearerToken)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').send({ error: 'invalid or missing bearer token' })
    }
    const { contentType, body } = await metrics.exposition()
    return reply.type(contentType).send(body)
  })
}

function bearerMatches(req: FastifyRequest, expected: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')
  return match !== null && secretsEqual(match[1]!, expected)
}
