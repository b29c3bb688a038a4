import type { FastifyInstance } from 'fastify'
import type { z } from 'zod'
import { GatewayError } from './errors.ts'
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.ts'

// Request bodies, for every route group: how they are parsed, how long they may take, how they are validated.

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

/** Validates a parsed body; a mismatch is a 400 naming the first offending field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const param = issue.path.join('.')
  throw new GatewayError(400, param ? `${param}: ${issue.message}` : issue.message, { param: param || null })
}
