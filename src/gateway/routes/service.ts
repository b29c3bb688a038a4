import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Warehouse } from '../../warehouse/index.ts'
import type { StartupState } from '../../startup.ts'
import { GatewayError, anthropicErrorType, type Refusal } from '../../http/errors.ts'

const TELEMETRY_PATHS = ['/api/event_logging/batch', '/v1/api/event_logging/batch']

/**
 * Liveness, readiness, and a sink for Claude Code's telemetry posts. While the gateway is still starting
 * (waiting for a ClickHouse server), every other route answers 503 in its own dialect: no token can be checked
 * yet; `refused` records each refusal (a proxied route's becomes a row once ClickHouse answers). `open` names
 * further paths that need nothing from ClickHouse (the metrics path).
 */
export function serviceRoutes(
  app: FastifyInstance,
  warehouse: Warehouse,
  gate?: { startup: { readonly state: StartupState }; open: readonly string[]; refused: (refusal: Refusal) => void },
): void {
  const startup = gate?.startup
  if (gate) {
    const open = new Set(['/health', '/ready', ...TELEMETRY_PATHS, ...gate.open])
    // On the root, before any route group registers: it runs first, and a route group's error handler puts
    // the refusal in that group's dialect.
    app.addHook('onRequest', async (req) => {
      const { state } = gate.startup
      const url = req.routeOptions.url
      // an unknown path is a 404 whatever the state
      if (state.phase === 'ready' || url === undefined || open.has(url)) return
      const message = `ccproxy is starting and cannot serve yet: ${state.reason}; try again shortly`
      const path = req.url.split('?')[0]!
      gate.refused({ method: req.method, path, status: 503, type: anthropicErrorType(503), message, clientIp: req.ip, userAgent: req.headers['user-agent'] ?? '' })
      throw new GatewayError(503, message, { headers: { 'retry-after': '5' } })
    })
  }

  app.get('/health', async () => ({ status: 'ok' }))

  app.get('/ready', async (_req, reply) => {
    const state = startup?.state
    if (state && state.phase !== 'ready') return reply.code(503).send({ status: 'not ready', clickhouse: warehouse.kind, reason: state.reason })
    const ready = await warehouse.ready()
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', clickhouse: warehouse.kind })
  })

  // Claude Code posts its own telemetry to the gateway; accept and drop it so it does not see errors. It is
  // answered before its body is read: anyone may call these, and nothing of what they send is wanted.
  const drop = async (_req: FastifyRequest, reply: FastifyReply) => reply.send({ success: true })
  for (const path of TELEMETRY_PATHS) {
    app.post(path, { onRequest: drop }, drop)
  }
}
