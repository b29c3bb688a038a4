import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { requestParams, type Exchange, type Endpoint } from '../../record/exchange.ts'
import { anthropicRequestContent } from '../../record/content.ts'
import { GatewayError, anthropicErrorType, speaks } from '../../http/errors.ts'
import { clientGone, rawBody, write } from '../http.ts'
import { SseParser } from '../sse.ts'
import { describeConnectionError, forwardableHeaders, unavailable, type UpstreamResult } from '../upstream.ts'
import type { GatewayDeps } from '../deps.ts'
import { cutText } from '../../record/text.ts'

/**
 * The native Anthropic API, passed through faithfully: the body goes upstream byte for byte (unknown
 * fields, thinking, tools, cache_control and all), anthropic-version/-beta and `?beta=true` as sent, the
 * answer relayed with its status, and a stream relayed chunk by chunk as it arrives. The plugin under
 * /v1/messages.
 */
export function messagesRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  speaks(app, 'anthropic')
  const passThrough = (endpoint: Endpoint, path: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const exchange = req.exchange!
    const body = req.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new GatewayError(400, 'the request body must be a JSON object')
    }
    const { model, stream, metadata } = body as { model?: unknown; stream?: unknown; metadata?: { user_id?: unknown } }
    exchange.requestedModel = typeof model === 'string' ? model : null
    exchange.stream = stream === true && endpoint === 'messages'
    if (!exchange.conversationId && typeof metadata?.user_id === 'string') exchange.conversationId = cutText(metadata.user_id, 256)
    exchange.requestParams = requestParams(body as Record<string, unknown>)
    if (endpoint === 'messages') exchange.captureContent(() => anthropicRequestContent(body))
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''
    const result = await deps.upstream.send(
      { method: 'POST', path: path + query, headers: forwardableHeaders(req.headers), body: rawBody(req), signal: clientGone(req, reply) },
      exchange,
    )
    return relay(result, exchange, reply)
  }
  app.post('', { config: { endpoint: 'messages' } }, passThrough('messages', '/v1/messages'))
  app.post('/count_tokens', { config: { endpoint: 'count_tokens' } }, passThrough('count_tokens', '/v1/messages/count_tokens'))
}

async function relay(result: UpstreamResult, exchange: Exchange, reply: FastifyReply): Promise<FastifyReply | void> {
  if (result.kind === 'no_account' || result.kind === 'auth_failed' || result.kind === 'unreachable') throw unavailable(result)
  if (result.kind === 'failed') {
    const body = anthropicErrorBody(result.status, result.errorBody)
    exchange.fail(result.status, body.error.type, body.error.message)
    return reply.code(result.status).headers({ ...result.headers, 'content-type': 'application/json' }).send(body)
  }
  exchange.statusCode = result.status
  if (!(result.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const text = await result.body.text()
    try {
      exchange.observeMessage(JSON.parse(text))
    } catch {
      // a body that is not JSON is relayed as it came; there is nothing in it to measure
    }
    exchange.firstByte()
    return reply.code(result.status).headers(result.headers).send(text)
  }
  reply.hijack()
  reply.raw.writeHead(result.status, { ...result.headers, 'cache-control': 'no-cache', connection: 'keep-alive' })
  const parser = new SseParser()
  let stopped = false
  let broken: string | undefined
  try {
    for await (const chunk of result.body) {
      await write(reply, chunk)
      for (const event of parser.push(chunk)) {
        if (event.event === 'content_block_delta') exchange.firstByte()
        if (event.event === 'message_stop') stopped = true
        exchange.observeEvent(event.event, safeJson(event.data))
      }
    }
    // A stream that ends cleanly but without message_stop (a proxy on the way cut it) is not a whole answer.
    if (!stopped && exchange.errorType === null) broken = 'upstream stream interrupted: upstream closed the stream before message_stop'
  } catch (err) {
    broken = `upstream stream interrupted: ${describeConnectionError(err)}`
  }
  if (broken !== undefined && !reply.raw.destroyed) {
    // Tell the client the way Anthropic itself would, and record the answer as the error it is.
    exchange.errorType = 'api_error'
    exchange.errorMessage = broken
    await write(reply, `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: broken } })}\n\n`)
  }
  reply.raw.end()
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Upstream's error body when it is Anthropic's own JSON, else one in that shape (a proxy's HTML page, say). */
function anthropicErrorBody(status: number, raw: Buffer): { type: 'error'; error: { type: string; message: string } } {
  const parsed = safeJson(raw.toString('utf8')) as { type?: string; error?: { type?: string; message?: string } } | undefined
  if (parsed?.type === 'error' && typeof parsed.error?.type === 'string') {
    return parsed as { type: 'error'; error: { type: string; message: string } }
  }
  return { type: 'error', error: { type: anthropicErrorType(status), message: `upstream answered ${status} without an error body` } }
}
