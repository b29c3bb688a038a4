import type { FastifyReply, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { GatewayError } from './errors.ts'
import { Exchange, type Endpoint } from '../record/exchange.ts'
import type { GatewayDeps } from './deps.ts'

/** The raw request body, kept by the JSON parser so pass-through routes forward exactly what was sent. */
export function rawBody(req: FastifyRequest): Buffer {
  return (req as FastifyRequest & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0)
}

/** Validates a parsed body; a mismatch is a 400 naming the first offending field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const param = issue.path.join('.')
  throw new GatewayError(400, param ? `${param}: ${issue.message}` : issue.message, { param: param || null })
}

/**
 * An AbortSignal that fires when the client goes away before the response is complete, so the upstream
 * request is aborted with it and nothing keeps generating for nobody.
 */
export function clientGone(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'))
  })
  req.raw.once('aborted', () => controller.abort(new Error('client disconnected')))
  return controller.signal
}

/** Writes a chunk to the client and waits for the socket to drain when its buffer is full. */
export async function write(reply: FastifyReply, chunk: string | Uint8Array): Promise<void> {
  if (reply.raw.destroyed) return
  if (!reply.raw.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        reply.raw.off('drain', done)
        reply.raw.off('close', done)
        resolve()
      }
      reply.raw.on('drain', done)
      reply.raw.on('close', done)
    })
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    exchange: Exchange | null
  }
}

/**
 * Starts measuring a proxied request and authenticates its caller. When the response is over — sent,
 * failed or abandoned by the client — the exchange is finished and handed to `deps.onExchange` (never
 * awaited: the request path does not wait on what happens to its measurements).
 */
export async function beginExchange(req: FastifyRequest, reply: FastifyReply, deps: GatewayDeps, endpoint: Endpoint): Promise<Exchange> {
  const exchange = new Exchange(endpoint)
  req.exchange = exchange
  // The id of the request's log row: lets a user quote it to an administrator, and tools correlate.
  reply.raw.setHeader('x-ccproxy-request-id', exchange.id)
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) exchange.clientAborted = true
    if (exchange.statusCode === 0) exchange.statusCode = reply.raw.statusCode
    exchange.finish()
    deps.onExchange(exchange)
  })
  exchange.clientIp = req.ip
  exchange.userAgent = (req.headers['user-agent'] ?? '').slice(0, 512)
  const conversationId = req.headers['x-conversation-id']
  if (typeof conversationId === 'string') exchange.conversationId = conversationId.slice(0, 256)
  exchange.joinTrace(req.headers.traceparent, req.headers.tracestate)
  const principal = await deps.auth.authenticate(req.headers, 'api')
  exchange.tokenId = principal.tokenId
  exchange.userName = principal.name
  exchange.contentAllowed = principal.conversationLogging && deps.config.conversations.enabled
  return exchange
}
