import type { FastifyRequest } from 'fastify'
import type { TokenSigner } from '../tokens/jwt.ts'
import type { TokenRegistry } from '../tokens/registry.ts'
import type { TokenMode } from '../warehouse/tokens.ts'
import { GatewayError } from '../http/errors.ts'

export interface Principal {
  tokenId: string
  name: string
  mode: TokenMode
  conversationLogging: boolean
}

/**
 * The caller's token, from `Authorization: Bearer …` (OpenAI SDKs, Anthropic SDK 1.x, Claude Code's
 * ANTHROPIC_AUTH_TOKEN) or `x-api-key` (Anthropic SDK 0.x, ANTHROPIC_API_KEY). Never from the query string.
 */
export function presentedToken(headers: FastifyRequest['headers']): string | undefined {
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim())
    if (m) return m[1]!.trim()
  }
  const key = headers['x-api-key']
  return typeof key === 'string' && key.trim() !== '' ? key.trim() : undefined
}

export class Authenticator {
  constructor(
    private readonly signer: TokenSigner,
    private readonly tokens: TokenRegistry,
  ) {}

  /**
   * Checks the token and, when `mode` is given, that the token's mode allows it. 401 for a missing, malformed, expired, revoked or
   * unknown token; 403 when the mode does not allow the route. A token row the database cannot be asked
   * about is a 503, not a pass.
   */
  async authenticate(headers: FastifyRequest['headers'], mode?: 'api' | 'web'): Promise<Principal> {
    const token = presentedToken(headers)
    if (!token) throw new GatewayError(401, 'missing authorization token: send Authorization: Bearer <token> or x-api-key')
    const verified = await this.signer.verify(token)
    if (!verified.ok) throw new GatewayError(401, verified.reason === 'expired' ? 'token has expired' : 'invalid token')
    let row
    try {
      row = await this.tokens.get(verified.claims.jti)
    } catch {
      throw new GatewayError(503, 'token store unavailable, try again shortly', { headers: { 'retry-after': '5' } })
    }
    if (!row) throw new GatewayError(401, 'token is not known to this gateway')
    if (row.revoked_at) throw new GatewayError(401, 'token has been revoked')
    if (row.expires_at.getTime() <= Date.now()) throw new GatewayError(401, 'token has expired')
    if (mode && row.mode !== 'both' && row.mode !== mode) {
      throw new GatewayError(403, `token mode "${row.mode}" does not allow ${mode} requests`)
    }
    this.tokens.markUsed(row.id)
    return { tokenId: row.id, name: row.name, mode: row.mode, conversationLogging: row.enable_conversation_logging }
  }
}
