import type { FastifyInstance, FastifyRequest } from 'fastify'
import { speaks } from '../../http/errors.ts'
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

/** Claude Code's gateway model discovery sends anthropic-version; the OpenAI SDKs do not. */
const dialectOf = (req: FastifyRequest) => (req.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai')

/**
 * GET /v1/models (the plugin under /v1/models): the upstream's model list (cached for ten minutes), in the
 * OpenAI list shape, or in Anthropic's when the caller sends anthropic-version — errors likewise.
 */
export function modelRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  speaks(app, dialectOf)
  let cache: { models: AnthropicModel[]; at: number } | undefined

  app.get('', { config: { endpoint: 'models' } }, async (req, reply) => {
    const exchange = req.exchange!
    if (!cache || Date.now() - cache.at > CACHE_MS) {
      const result = await deps.upstream.send(
        {
          method: 'GET',
          path: '/v1/models?limit=1000',
          headers: { 'anthropic-version': '2023-06-01' },
          signal: clientGone(req, reply),
        },
        exchange,
      )
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
    return {
      object: 'list',
      data: models.map((m) => ({ id: m.id, object: 'model', created: Math.floor(Date.parse(m.created_at) / 1000), owned_by: 'anthropic' })),
    }
  })
}
