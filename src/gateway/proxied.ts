import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Exchange, type Endpoint } from '../record/exchange.ts'
import type { GatewayMetrics } from '../sinks/metrics.ts'
import type { GatewayDeps } from './deps.ts'
import { chatRoutes } from './routes/chat.ts'
import { messagesRoutes } from './routes/messages.ts'
import { modelRoutes } from './routes/models.ts'
import { cutText } from '../record/text.ts'
import { anthropicErrorType, type Refusal } from '../http/errors.ts'
import { answeredOnSocket } from '../http/socket-errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** set on every proxied route: what its request record is filed under */
    endpoint?: Endpoint
  }
}

/**
 * The proxied API: each dialect a plugin of its own under its prefix (OpenAI under /v1, Anthropic under
 * /v1/messages, the model list under /v1/models), sharing one onRequest hook that opens the request's
 * exchange and checks its token before a byte of the body is read.
 */
export function proxiedRoutes(deps: GatewayDeps, metrics?: GatewayMetrics) {
  return async (proxied: FastifyInstance): Promise<void> => {
    proxied.addHook('onRequest', async (req, reply) => {
      const endpoint = req.routeOptions.config.endpoint
      if (!endpoint) return // an unknown path under /v1: a 404, nothing to measure
      // In flight from the moment a proxied request is routed until its response is over, sent or abandoned.
      if (metrics) reply.raw.once('close', metrics.started())
      await admit(req, reply, deps, endpoint)
    })
    await proxied.register(async (openai) => chatRoutes(openai, deps), { prefix: '/v1' })
    await proxied.register(async (anthropic) => messagesRoutes(anthropic, deps), { prefix: '/v1/messages' })
    await proxied.register(async (models) => modelRoutes(models, deps), { prefix: '/v1/models' })
  }
}

/** The proxied routes by method and path, for requests refused before routing (the routes declare their own). */
function endpointOf(method: string, path: string): Endpoint | undefined {
  const [p = ''] = path.split('?')
  if (method === 'GET') return p === '/v1/models' || p.startsWith('/v1/models/') ? 'models' : undefined
  if (method !== 'POST') return undefined
  return ({ '/v1/chat/completions': 'chat.completions', '/v1/messages': 'messages', '/v1/messages/count_tokens': 'count_tokens' } as const)[p]
}

/**
 * Records a request refused before routing (a path that does not decode, headers over Node's limit) when
 * it was addressed to a proxied route: one record, without a token (none was read), like any refusal.
 */
export function recordRefusal(deps: Pick<GatewayDeps, 'onExchange'>, refusal: Refusal): void {
  const endpoint = endpointOf(refusal.method, refusal.path)
  if (!endpoint) return
  const exchange = new Exchange(endpoint)
  exchange.clientIp = refusal.clientIp
  exchange.userAgent = cutText(refusal.userAgent, 512)
  exchange.fail(refusal.status, refusal.type, refusal.message)
  exchange.finish()
  deps.onExchange(exchange)
}

/**
 * Starts measuring a proxied request and authenticates its caller. When the response is over — sent,
 * failed or abandoned by the client — the exchange is finished and handed to `deps.onExchange` (never
 * awaited: the request path does not wait on what happens to its measurements). A refused token is
 * answered at once: the body is never read, and the connection is closed so a client still sending one
 * cannot keep the gateway receiving it.
 */
async function admit(req: FastifyRequest, reply: FastifyReply, deps: GatewayDeps, endpoint: Endpoint): Promise<void> {
  const exchange = new Exchange(endpoint)
  req.exchange = exchange
  // The id of the request's log row: lets a user quote it to an administrator, and tools correlate.
  reply.raw.setHeader('x-ccproxy-request-id', exchange.id)
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) exchange.clientAborted = true
    // Node cut the request before its body arrived whole (server.body_timeout, a body that is not HTTP) and
    // answered it on the socket: recorded as answered. A client that left mid-upload is a 499, below.
    const cut = exchange.statusCode === 0 ? answeredOnSocket(reply.raw) : undefined
    if (cut) exchange.fail(cut.status, anthropicErrorType(cut.status), cut.message)
    // The client left before a byte of the answer was sent: recorded as nginx does (499), not as the 200 it
    // never got (a failure already recorded, an upstream 429 say, keeps its status).
    if (!reply.raw.headersSent && !(exchange.statusCode >= 400)) {
      exchange.fail(499, 'client_disconnected', 'the client disconnected before the response was complete')
    }
    if (exchange.statusCode === 0) exchange.statusCode = reply.raw.statusCode
    exchange.finish()
    deps.onExchange(exchange)
  })
  exchange.clientIp = req.ip
  exchange.userAgent = cutText(req.headers['user-agent'] ?? '', 512)
  const conversationId = req.headers['x-conversation-id']
  if (typeof conversationId === 'string') exchange.conversationId = cutText(conversationId, 256)
  exchange.joinTrace(req.headers.traceparent, req.headers.tracestate)
  try {
    const principal = await deps.auth.authenticate(req.headers, 'api')
    exchange.tokenId = principal.tokenId
    exchange.userName = principal.name
    exchange.contentAllowed = principal.conversationLogging && deps.config.conversations.enabled
  } catch (err) {
    if (!req.raw.complete) reply.header('connection', 'close')
    throw err
  }
}
