import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Every error leaves in the caller's own dialect: the OpenAI error shape on OpenAI routes, Anthropic's on
 * Anthropic routes, `{"error": "…"}` on admin routes (the Go ccproxy's shape, which its UI reads). Each
 * route group's plugin declares its dialect (`speaks` in http.ts).
 */
export type Dialect = 'openai' | 'anthropic' | 'admin'

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly opts: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message)
  }
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  529: 'overloaded_error',
}

export function anthropicErrorType(status: number): string {
  return ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

export function openaiErrorType(status: number): string {
  return OPENAI_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

export function errorBody(dialect: Dialect, err: GatewayError): unknown {
  switch (dialect) {
    case 'anthropic':
      return { type: 'error', error: { type: err.opts.type ?? anthropicErrorType(err.status), message: err.message } }
    case 'openai':
      return {
        error: {
          message: err.message,
          type: err.opts.type ?? openaiErrorType(err.status),
          param: err.opts.param ?? null,
          code: err.opts.code ?? null,
        },
      }
    case 'admin':
      return { error: err.message }
  }
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
    // The connection is gone — the client left (its abort ended the upstream call, or its body stopped) or
    // Node cut the request on the socket and answered it there: nobody to answer, and its record is made
    // as the connection closes, from what really happened.
    if (reply.raw.destroyed) return reply.hijack()
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
 * The dialect of a URL, for errors raised before routing only (fastify's frameworkErrors, Node's clientError):
 * there is no plugin yet to say it, so the path prefix does, mirroring the plugins' prefixes. Everything
 * routed gets its dialect from its plugin (`speaks`), never from here.
 */
export function dialectOfPath(path: string, anthropicVersion: boolean): Dialect {
  const [p = ''] = path.split('?')
  const under = (prefix: string) => p === prefix || p.startsWith(`${prefix}/`)
  if (under('/v1/messages')) return 'anthropic'
  if (under('/v1/models')) return anthropicVersion ? 'anthropic' : 'openai'
  return under('/v1') ? 'openai' : 'admin'
}

/** A request refused before routing: what its record needs (a proxied route's request gets one). */
export interface Refusal {
  method: string
  path: string
  status: number
  type: string
  message: string
  clientIp: string
  userAgent: string
}

/**
 * Fastify's `frameworkErrors`: a path that does not decode, or a path parameter too long, found before
 * routing, so before any plugin's handler: answered in the dialect of the path, and reported to `refused`.
 */
export function unroutable(refused: (refusal: Refusal) => void) {
  return (error: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 400
    const err = new GatewayError(status, error.message)
    reply.code(status).send(errorBody(dialectOfPath(req.url, req.headers['anthropic-version'] !== undefined), err))
    const userAgent = req.headers['user-agent'] ?? ''
    refused({ method: req.method, path: req.url, status, type: anthropicErrorType(status), message: err.message, clientIp: req.ip, userAgent })
  }
}

/** Our own errors as they are, fastify's client errors (413, 415, …) in our words, anything else undefined. */
function asGatewayError(error: FastifyError | GatewayError, req: FastifyRequest): GatewayError | undefined {
  if (error instanceof GatewayError) return error
  if (error.statusCode === 413) return new GatewayError(413, `request body is larger than the ${req.routeOptions.bodyLimit}-byte limit`)
  if (error.statusCode && error.statusCode < 500) return new GatewayError(error.statusCode, error.message)
  return undefined
}
