import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { requestParams, type Exchange } from '../../record/exchange.ts'
import { openaiRequestContent } from '../../record/content.ts'
import { GatewayError, speaks } from '../../http/errors.ts'
import { clientGone, write } from '../http.ts'
import { SseParser } from '../sse.ts'
import { describeConnectionError, unavailable, type UpstreamResult } from '../upstream.ts'
import type { GatewayDeps } from '../deps.ts'
import { cutText } from '../../record/text.ts'
import {
  ChatStreamTranslator,
  TranslationError,
  parseChatCompletionRequest,
  toAnthropicRequest,
  toChatCompletion,
  toOpenAIError,
} from '../openai/index.ts'

/** The translated path always speaks the classic API version, whose sampling rules the translator knows. */
const ANTHROPIC_VERSION = '2023-06-01'

/** OpenAI Chat Completions (the plugin under /v1), translated to the Anthropic Messages API and back. */
export function chatRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  speaks(app, 'openai')
  app.post('/chat/completions', { config: { endpoint: 'chat.completions' } }, async (req, reply) => {
    const exchange = req.exchange!
    let upstreamBody
    let request
    try {
      request = parseChatCompletionRequest(req.body)
      exchange.requestedModel = request.model
      if (!exchange.conversationId && request.user) exchange.conversationId = cutText(request.user, 256)
      exchange.captureContent(() => openaiRequestContent(request!))
      upstreamBody = toAnthropicRequest(request, { defaultMaxTokens: deps.config.claude.default_max_tokens })
    } catch (err) {
      if (err instanceof TranslationError) throw new GatewayError(400, err.message, { param: err.param })
      throw err
    }
    exchange.stream = upstreamBody.stream === true
    exchange.requestParams = requestParams(upstreamBody as unknown as Record<string, unknown>)
    const result = await deps.upstream.send(
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION },
        body: JSON.stringify(upstreamBody),
        signal: clientGone(req, reply),
      },
      exchange,
    )
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`
    const created = Math.floor(Date.now() / 1000)
    if (result.kind !== 'response') return failure(result, exchange, reply)
    exchange.statusCode = 200
    if (!exchange.stream) {
      const message = (await result.body.json()) as Parameters<typeof toChatCompletion>[0]
      exchange.observeMessage(message)
      exchange.firstByte()
      return reply.headers(requestIdHeaders(result.headers)).send(toChatCompletion(message, { id, created, model: request.model }))
    }
    const translator = new ChatStreamTranslator({
      id,
      created,
      includeUsage: request.stream_options?.include_usage === true,
      requestedModel: request.model,
    })
    reply.hijack()
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...requestIdHeaders(result.headers),
    })
    const send = (payload: unknown) => write(reply, `data: ${JSON.stringify(payload)}\n\n`)
    const parser = new SseParser()
    let ended = false
    try {
      for await (const chunk of result.body) {
        for (const event of parser.push(chunk)) {
          const data = JSON.parse(event.data)
          exchange.observeEvent(event.event, data)
          if (event.event === 'error') {
            await send(translator.error(data.error ?? { type: 'api_error', message: 'upstream stream error' }))
            ended = true
            break
          }
          for (const out of translator.push(event.event, data)) {
            if (out.choices.some((c) => c.delta.content || c.delta.tool_calls || c.delta.reasoning_content)) exchange.firstByte()
            await send(out)
          }
          if (event.event === 'message_stop') {
            await write(reply, 'data: [DONE]\n\n')
            ended = true
          }
        }
        if (ended) break
      }
      if (!ended) throw new Error('upstream closed the stream before message_stop')
    } catch (err) {
      if (!reply.raw.destroyed && !ended) {
        const message = `upstream stream interrupted: ${describeConnectionError(err)}`
        exchange.errorType = 'api_error'
        exchange.errorMessage = message
        await send(translator.error({ type: 'api_error', message }))
      }
    }
    reply.raw.end()
  })
}

function requestIdHeaders(headers: Record<string, string>): Record<string, string> {
  return headers['request-id'] ? { 'x-request-id': headers['request-id'] } : {}
}

function failure(result: Exclude<UpstreamResult, { kind: 'response' }>, exchange: Exchange, reply: FastifyReply) {
  if (result.kind !== 'failed') throw unavailable(result)
  let upstreamBody: unknown
  try {
    upstreamBody = JSON.parse(result.errorBody.toString('utf8'))
  } catch {
    upstreamBody = undefined
  }
  const { status, body } = toOpenAIError(result.status, upstreamBody)
  exchange.fail(status, body.error.type, body.error.message)
  const headers: Record<string, string> = requestIdHeaders(result.headers)
  if (result.headers['retry-after']) headers['retry-after'] = result.headers['retry-after']
  return reply.code(status).headers(headers).send(body)
}
