import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Warehouse } from '../../warehouse/index.ts'

/** Liveness, readiness, and a sink for Claude Code's telemetry posts. */
export function serviceRoutes(app: FastifyInstance, warehouse: Warehouse): void {
  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/ready', async (_req, reply) => {
    const ready = await warehouse.ready()
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', clickhouse: warehouse.kind })
  })

  // Claude Code posts its own telemetry to the gateway; accept and drop it so it does not see errors. It is
  // answered before its body is read: anyone may call these, and nothing of what they send is wanted.
  const drop = async (_req: FastifyRequest, reply: FastifyReply) => reply.send({ success: true })
  for (const path of ['/api/event_logging/batch', '/v1/api/event_logging/batch']) {
    app.post(path, { onRequest: drop }, drop)
  }
}
