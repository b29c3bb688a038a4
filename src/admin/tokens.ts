import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { parseDuration } from '../duration.ts'
import { GatewayError } from '../http/errors.ts'
import { parseWith } from '../http/body.ts'
import { displayName, idField } from './fields.ts'
import type { Authenticator } from '../gateway/auth.ts'
import type { TokenSigner } from '../tokens/jwt.ts'
import type { TokenRegistry } from '../tokens/registry.ts'
import type { NewToken, TokenRow, TokenStore } from '../warehouse/tokens.ts'
import type { StatsStore } from '../warehouse/stats.ts'

const mode = z.enum(['web', 'api', 'both'], { error: "mode must be 'web', 'api' or 'both'" })

/** Within what a JavaScript Date and the tokens table's DateTime64 hold, and longer than anyone needs. */
const MAX_LIFETIME_DAYS = 36_500

const generateBody = z.object({
  name: displayName,
  expires_in: z
    .string()
    .max(64)
    .refine((s) => (parseDuration(s) ?? 0) > 0, 'expires_in must be a positive duration such as 720h or 30d')
    .refine((s) => (parseDuration(s) ?? 0) <= MAX_LIFETIME_DAYS * 86_400_000, `expires_in must be at most ${MAX_LIFETIME_DAYS}d (100 years)`)
    .optional(),
  mode: mode.default('both'),
  enable_conversation_logging: z.boolean().default(false),
})
const revokeBody = z.object({ id: idField })
const settingsBody = z.object({ enable_conversation_logging: z.boolean() })

interface TokenUsage {
  total_requests: number
  total_tokens_used: number
}
const NO_USAGE: TokenUsage = { total_requests: 0, total_tokens_used: 0 }

/** A token as the admin API and the Go ccproxy's UI show it. */
function tokenInfo(t: TokenRow, lastUsedAt: Date | null, usage: TokenUsage) {
  return {
    id: t.id,
    name: t.name,
    mode: t.mode,
    created_at: t.created_at,
    expires_at: t.expires_at,
    ...(t.revoked_at ? { revoked_at: t.revoked_at } : {}),
    ...(lastUsedAt ? { last_used_at: lastUsedAt } : {}),
    is_valid: !t.revoked_at && t.expires_at.getTime() > Date.now(),
    enable_conversation_logging: t.enable_conversation_logging,
    // All-time totals from usage_stats_daily (kept live by its materialized view over request_logs).
    total_requests: usage.total_requests,
    total_tokens_used: usage.total_tokens_used,
  }
}

export function tokenAdminRoutes(
  app: FastifyInstance,
  deps: { store: TokenStore; registry: TokenRegistry; signer: TokenSigner; defaultExpiryMs: number; stats: StatsStore },
): void {
  const { store, registry, signer } = deps

  app.post('/api/token/generate', async (req) => {
    const body = parseWith(generateBody, req.body)
    const now = new Date(Math.floor(Date.now() / 1000) * 1000)
    const ttl = body.expires_in ? parseDuration(body.expires_in)! : deps.defaultExpiryMs
    const row: NewToken = {
      id: randomUUID(),
      name: body.name,
      mode: body.mode,
      created_at: now,
      expires_at: new Date(now.getTime() + ttl),
      enable_conversation_logging: body.enable_conversation_logging,
    }
    const token = await signer.sign({ id: row.id, name: row.name, mode: row.mode, issuedAt: row.created_at, expiresAt: row.expires_at })
    await store.save(row)
    registry.remember({ ...row, revoked_at: null })
    return {
      token,
      id: row.id,
      name: row.name,
      mode: row.mode,
      created_at: row.created_at,
      expires_at: row.expires_at,
      enable_conversation_logging: row.enable_conversation_logging,
    }
  })

  app.get('/api/token/list', async () => {
    const tokens = await store.list()
    const usage = await deps.stats.tokenTotals(tokens.map((t) => t.id))
    return { tokens: tokens.map((t) => tokenInfo(t, registry.lastUsed(t.id, t.last_used_at), usage.get(t.id) ?? NO_USAGE)) }
  })

  app.post('/api/token/revoke', async (req) => {
    const { id } = parseWith(revokeBody, req.body)
    const row = await store.get(id)
    if (!row) throw new GatewayError(404, 'token not found')
    if (!row.revoked_at) await store.revoke(id)
    registry.forget(id)
    return { message: 'token revoked successfully', id }
  })

  app.put<{ Params: { id: string } }>('/api/token/:id/settings', async (req) => {
    const body = parseWith(settingsBody, req.body)
    const row = await store.setConversationLogging(req.params.id, body.enable_conversation_logging)
    if (!row) throw new GatewayError(404, 'token not found')
    registry.forget(row.id)
    return { message: 'token settings updated successfully', id: row.id, enable_conversation_logging: body.enable_conversation_logging }
  })
}

/** GET /api/token/info: the caller's own token, authenticated by the token itself (any mode). */
export function tokenInfoRoute(
  app: FastifyInstance,
  deps: { store: TokenStore; registry: TokenRegistry; auth: Authenticator; stats: StatsStore },
): void {
  app.get('/api/token/info', async (req) => {
    const { tokenId } = await deps.auth.authenticate(req.headers)
    const row = await deps.store.get(tokenId)
    if (!row) throw new GatewayError(404, 'token not found')
    const [lastUsed, usage] = await Promise.all([deps.store.lastUsed(row.id), deps.stats.tokenTotals([row.id])])
    return tokenInfo(row, deps.registry.lastUsed(row.id, lastUsed), usage.get(row.id) ?? NO_USAGE)
  })
}
