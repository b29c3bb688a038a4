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

export class TokenSigner {
  readonly #key: Uint8Array
  constructor(secret: string, private readonly issuer: string) {
    this.#key = new TextEncoder().encode(secret)
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
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256', 'HS384', 'HS512'] })
      if (typeof payload.jti !== 'string' || typeof payload.exp !== 'number') return { ok: false, reason: 'invalid' }
      return { ok: true, claims: payload as unknown as TokenClaims }
    } catch (err) {
      return { ok: false, reason: err instanceof errors.JWTExpired ? 'expired' : 'invalid' }
    }
  }
}
