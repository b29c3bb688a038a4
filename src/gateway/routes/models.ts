import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, speaks } from '../../http/errors.ts'
import { unavailable } from '../upstream.ts'
import { clientGone } from '../http.ts'
import type { GatewayDeps } from '../deps.ts'

interface AnthropicModel {
  type: 'model'
  id: string
  display_name: string
  created_at: string
}

/** Served when upstream cannot be asked, so clients still see which models the gateway takes. */
const KNOWN_MODELS: AnthropicModel[] = [
  ['claude-opus-4-5', 'Claude Opus 4.5', '2025-11-24'],
  ['claude-sonnet-4-5', 'Claude Sonnet 4.5', '2025-09-29'],
  ['claude-haiku-4-5', 'Claude Haiku 4.5', '2025-10-15'],
  ['claude-opus-4-1', 'Claude Opus 4.1', '2025-08-05'],
  ['claude-sonnet-4-0', 'Claude Sonnet 4', '2025-05-22'],
].map(([id, display_name, day]) => ({ type: 'model', id: id!, display_name: display_name!, created_at: `${day}T00:00:00Z` }))

const CACHE_MS = 10 * 60_000
/** far above any model id or alias; a longer one is not asked of upstream */
const MAX_MODEL_ID = 256

/** Claude Code's gateway model discovery sends anthropic-version; the OpenAI SDKs do not. */
const dialectOf = (req: FastifyRequest) => (req.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai')

/** A model in the OpenAI SDKs' shape (`Model`: created in Unix seconds). */
const openaiModel = (m: AnthropicModel) => ({ id: m.id, object: 'model', created: Math.floor(Date.parse(m.created_at) / 1000), owned_by: 'anthropic' })

/**
 * GET /v1/models and GET /v1/models/:id (the plugin under /v1/models): the upstream's model list (cached
 * for ten minutes) or one model, in the OpenAI shape, or in Anthropic's when the caller sends
 * anthropic-version — errors likewise.
 */
export function modelRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  speaks(app, dialectOf)
  let cache: { models: AnthropicModel[]; at: number } | undefined
  const ask = (req: FastifyRequest, reply: FastifyReply, path: string) =>
    deps.upstream.send({ method: 'GET', path, headers: { 'anthropic-version': '2023-06-01' }, signal: clientGone(req, reply) }, req.exchange!)

  app.get('', { config: { endpoint: 'models' } }, async (req, reply) => {
    const exchange = req.exchange!
    if (!cache || Date.now() - cache.at > CACHE_MS) {
      const result = await ask(req, reply, '/v1/models?limit=1000')
      if (result.kind === 'response') {
        const body = (await result.body.json().catch(() => ({}))) as { data?: AnthropicModel[] }
        if (Array.isArray(body.data) && body.data.length > 0) cache = { models: body.data, at: Date.now() }
      }
    }
    const models = cache?.models ?? KNOWN_MODELS
    exchange.statusCode = 200
    if (dialectOf(req) === 'anthropic') {
      return { data: models, has_more: false, first_id: models[0]?.id ?? null, last_id: models.at(-1)?.id ?? null }
    }
    return { object: 'list', data: models.map(openaiModel) }
  })

  // Both SDKs' models.retrieve. A model in the fresh cached list is answered from it; any other id (an alias
  // such as claude-sonnet-4-5 resolves upstream) is asked of upstream, and when no upstream can be asked the
  // models the gateway knows still answer. A wildcard, not /:id: a path parameter over fastify's
  // maxParamLength is refused before routing, so in the admin shape instead of the caller's.
  app.get<{ Params: { '*': string } }>('/*', { config: { endpoint: 'models' } }, async (req, reply) => {
    const exchange = req.exchange!
    const id = req.params['*']
    if (id.length > MAX_MODEL_ID) throw new GatewayError(404, `model id is longer than ${MAX_MODEL_ID} characters`)
    const fresh = cache && Date.now() - cache.at <= CACHE_MS ? cache.models : []
    let model = fresh.find((m) => m.id === id)
    if (!model) {
      const result = await ask(req, reply, `/v1/models/${encodeURIComponent(id)}`)
      if (result.kind === 'response') {
        const body = (await result.body.json().catch(() => undefined)) as AnthropicModel | undefined
        if (typeof body?.id !== 'string' || typeof body.created_at !== 'string') throw new GatewayError(502, 'upstream answered the model lookup without a model')
        model = body
      } else if (result.kind === 'failed') {
        throw new GatewayError(result.status, result.status === 404 ? `model '${id}' not found` : `upstream answered ${result.status} to the model lookup`)
      } else {
        model = (cache?.models ?? KNOWN_MODELS).find((m) => m.id === id)
        if (!model) throw unavailable(result)
      }
    }
    exchange.statusCode = 200
    return dialectOf(req) === 'anthropic' ? model : openaiModel(model)
  })
}
