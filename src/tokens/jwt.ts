import { createSecretKey, type KeyObject } from 'node:crypto'
import { SignJWT, jwtVerify, errors } from 'jose'
import type { TokenMode } from '../warehouse/tokens.ts'

/** The claims the Go ccproxy put in its tokens; kept so its tokens stay valid here with the same secret. */
export interface TokenClaims {
  name: string
  mode: TokenMode
  jti: string
  sub: string
  iss: string
  iat: number
  exp: number
}

const VERIFIED_CACHE_SIZE = 10_000

export class TokenSigner {
  // A KeyObject made once: given raw bytes, jose would import the key again on every verification.
  readonly #key: KeyObject
  /** tokens whose signature checked out, with their claims: a signature does not change, expiry is rechecked */
  readonly #verified = new Map<string, TokenClaims>()

  constructor(secret: string, private readonly issuer: string) {
    this.#key = createSecretKey(Buffer.from(secret, 'utf8'))
  }

  sign(t: { id: string; name: string; mode: TokenMode; issuedAt: Date; expiresAt: Date }): Promise<string> {
    return new SignJWT({ name: t.name, mode: t.mode })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(t.id)
      .setSubject(t.name)
      .setIssuer(this.issuer)
      .setIssuedAt(Math.floor(t.issuedAt.getTime() / 1000))
      .setExpirationTime(Math.floor(t.expiresAt.getTime() / 1000))
      .sign(this.#key)
  }

  /**
   * Verifies signature and expiry. Like the Go version, any HMAC algorithm is accepted and the issuer is
   * not checked (tokens minted under another issuer name keep working); revocation is the caller's job.
   */
  async verify(token: string): Promise<{ ok: true; claims: TokenClaims } | { ok: false; reason: 'expired' | 'invalid' }> {
    const known = this.#verified.get(token)
    if (known) return known.exp * 1000 > Date.now() ? { ok: true, claims: known } : { ok: false, reason: 'expired' }
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256', 'HS384', 'HS512'] })
      if (typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return { ok: false, reason: 'invalid' }
      const claims = payload as unknown as TokenClaims
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!)
      this.#verified.set(token, claims)
      return { ok: true, claims }
    } catch (err) {
      return { ok: false, reason: err instanceof errors.JWTExpired ? 'expired' : 'invalid' }
    }
  }
}
