import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { GatewayError } from '../http/errors.ts'
import { parseWith } from '../http/body.ts'
import { type ConversationStore, SEARCH_MAX_CHARS, type ConversationFilter } from '../warehouse/conversations.ts'
import { optional, queryObject, intParam, idParam, enumParam, uuidParam, timeRangeShape, timeRange, pagingShape } from './query-params.ts'
import { sendDownload } from './download.ts'

const searchText = z
  .string({ error: 'is required (the text to search for), given once' })
  .transform((s) => s.trim())
  .pipe(z.string().min(1, 'is required (the text to search for)').max(SEARCH_MAX_CHARS, `must be at most ${SEARCH_MAX_CHARS} characters`))

const filterShape = { token_id: optional(idParam), model: optional(idParam), q: optional(searchText), ...timeRangeShape }
const listQuery = queryObject({ ...filterShape, ...pagingShape })
const exportQuery = queryObject({ ...filterShape, format: optional(enumParam(['json', 'jsonl'])) })
const searchQuery = queryObject({
  q: searchText,
  token_id: optional(idParam),
  limit: optional(intParam(1, 100)),
})

function filterOf(q: z.output<z.ZodObject<typeof filterShape>>): ConversationFilter {
  const filter: ConversationFilter = timeRange(q)
  for (const key of ['token_id', 'model', 'q'] as const) if (q[key] !== undefined) filter[key] = q[key]
  return filter
}

/** GET /api/conversations (filters, search and paging together), /search, /export, /:id; DELETE /api/conversations/:id */
export function conversationAdminRoutes(app: FastifyInstance, deps: { conversations: ConversationStore }): void {
  const store = deps.conversations

  app.get('/api/conversations', async (req) => {
    const q = parseWith(listQuery, req.query)
    const page = q.page ?? 0
    const limit = q.limit ?? 50
    const { conversations, total } = await store.list(filterOf(q), page, limit)
    return { conversations, total, page, limit, query: q.q ?? null }
  })

  app.get('/api/conversations/search', async (req) => {
    const q = parseWith(searchQuery, req.query)
    const limit = q.limit ?? 20
    const conversations = await store.search(q.q, q.token_id, limit)
    return { query: q.q, token_id: q.token_id ?? null, limit, conversations }
  })

  app.get('/api/conversations/export', async (req, reply) => {
    const q = parseWith(exportQuery, req.query)
    return sendDownload(reply, store.exportRows(filterOf(q)), { format: q.format ?? 'json', basename: 'conversations' })
  })

  app.get<{ Params: { id: string } }>('/api/conversations/:id', async (req) => {
    const conversation = await store.get(uuidParam(req.params.id))
    if (!conversation) throw new GatewayError(404, 'conversation not found')
    return conversation
  })

  app.delete<{ Params: { id: string } }>('/api/conversations/:id', async (req) => {
    const id = uuidParam(req.params.id)
    if (!(await store.delete(id))) throw new GatewayError(404, 'conversation not found')
    return { message: 'conversation deleted successfully', id }
  })
}
