import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Exchange } from '../record/exchange.ts'

// What the proxied routes share: the request's exchange, the raw body, client disconnects, writing streams.
// (HTTP helpers the admin API shares too are in src/http/.)

declare module 'fastify' {
  interface FastifyRequest {
    /** the measurement of a proxied request, from its onRequest hook on; null elsewhere */
    exchange: Exchange | null
  }
}

/** The raw request body, kept by the JSON parser so pass-through routes forward exactly what was sent. */
export function rawBody(req: FastifyRequest): Buffer {
  return (req as FastifyRequest & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0)
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
