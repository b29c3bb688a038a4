import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { GatewayError, anthropicErrorType, errorBody, type Dialect } from './errors.ts'
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.ts'
import type { Exchange } from '../record/exchange.ts'

// The HTTP helpers every route group shares: body parsing, validation, dialect-true errors, writing.

declare module 'fastify' {
  interface FastifyRequest {
    /** the measurement of a proxied request, from its onRequest hook on; null elsewhere */
    exchange: Exchange | null
  }
}

/**
 * JSON only (a text/plain body is a 415, not a string that fails validation later), nested no deeper than
 * MAX_JSON_DEPTH, and the raw bytes are kept: pass-through routes forward the body exactly as the client
 * sent it.
 */
export function acceptJson(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer
    ;(req as typeof req & { rawBody?: Buffer }).rawBody = bytes
    if (bytes.length === 0) return done(null, undefined)
    if (nestsDeeperThan(bytes, MAX_JSON_DEPTH)) {
      return done(new GatewayError(400, `request body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined)
    }
    try {
      done(null, JSON.parse(bytes.toString('utf8')))
    } catch (err) {
      done(new GatewayError(400, `malformed JSON in request body: ${(err as Error).message}`), undefined)
    }
  })
}

/**
 * Fastify options for server.body_timeout. Node's request timeout covers receiving the request (headers and
 * body), never the response; Node ignores it while the headers timeout is longer, and checks both every
 * connectionsCheckingInterval, which therefore follows a short timeout down.
 */
export function bodyTimeoutOptions(timeoutMs: number) {
  if (timeoutMs === 0) return { requestTimeout: 0 }
  const connectionsCheckingInterval = Math.min(1000, Math.max(10, Math.floor(timeoutMs / 4)))
  return { requestTimeout: timeoutMs, http: { headersTimeout: Math.min(60_000, timeoutMs), connectionsCheckingInterval } }
}

/**
 * Makes everything a plugin answers leave in one dialect: its routes' errors (thrown in hooks, parsers or
 * handlers) and, under its prefix, unknown paths. Fastify's encapsulation scopes both to the plugin, so no
 * URL is ever matched to find the dialect; a route group whose dialect depends on the request (GET
 * /v1/models, by anthropic-version) passes a function.
 */
export function speaks(app: FastifyInstance, dialect: Dialect | ((req: FastifyRequest) => Dialect)): void {
  const of = typeof dialect === 'function' ? dialect : () => dialect
  app.setErrorHandler((error: FastifyError | GatewayError, req, reply) => {
    const known = asGatewayError(error, req)
    if (!known) req.log.error({ err: error }, 'unhandled error')
    const shown = known ?? new GatewayError(500, 'internal error')
    req.exchange?.fail(shown.status, shown.opts.type ?? anthropicErrorType(shown.status), shown.message)
    return reply
      .code(shown.status)
      .headers(shown.opts.headers ?? {})
      .send(errorBody(of(req), shown))
  })
  app.setNotFoundHandler((req, reply) => {
    const err = new GatewayError(404, `no route for ${req.method} ${req.url.split('?')[0]}`)
    return reply.code(404).send(errorBody(of(req), err))
  })
}

/**
 * Fastify's `frameworkErrors`: a path parameter that does not decode or is too long, found before routing,
 * so before any plugin's handler. Only admin routes have path parameters: these answer in the admin shape.
 */
export function unroutable(error: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 400
  reply.code(status).send(errorBody('admin', new GatewayError(status, error.message)))
}

/** Our own errors as they are, fastify's client errors (413, 415, …) in our words, anything else undefined. */
function asGatewayError(error: FastifyError | GatewayError, req: FastifyRequest): GatewayError | undefined {
  if (error instanceof GatewayError) return error
  if (error.statusCode === 413) return new GatewayError(413, `request body is larger than the ${req.routeOptions.bodyLimit}-byte limit`)
  if (error.statusCode && error.statusCode < 500) return new GatewayError(error.statusCode, error.message)
  return undefined
}

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
