import { randomBytes, createHash, timingSafeEqual, hkdfSync, createCipheriv, createDecipheriv } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config.ts'

/**
 * A fresh clone must start with no config edits: an admin key or JWT secret that is not configured is
 * generated once and kept in the data directory (mode 0600), so restarts keep accepting the same tokens.
 * Returns the config with both filled in, and the admin key when it was generated just now.
 */
export function ensureSecrets(config: Config): { config: Config; generatedAdminKey?: string } {
  mkdirSync(config.data_dir, { recursive: true })
  const admin = configured(config.admin.key) ?? readOrCreate(join(config.data_dir, 'admin.key'), () => `ccp_admin_${randomBytes(24).toString('base64url')}`)
  const jwt = configured(config.jwt.secret) ?? readOrCreate(join(config.data_dir, 'jwt.secret'), () => randomBytes(48).toString('base64url'))
  return {
    config: { ...config, admin: { ...config.admin, key: admin.value }, jwt: { ...config.jwt, secret: jwt.value } },
    ...(admin.created ? { generatedAdminKey: admin.value } : {}),
  }
}

const configured = (value: string) => (value ? { value, created: false } : undefined)

function readOrCreate(file: string, make: () => string): { value: string; created: boolean } {
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), created: false }
  const value = make()
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(file, 0o600)
  return { value, created: true }
}

/** Constant-time comparison of two secrets of any length (both are hashed to equal-length digests first). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b) && given.length === expected.length
}

/**
 * AES-256-GCM for account credentials at rest. The key is derived from the JWT secret with HKDF, so one
 * configured secret protects both; rotating that secret means re-adding stored accounts.
 */
export class CredentialBox {
  readonly #key: Buffer
  constructor(secret: string) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'ccproxy', 'account-credentials', 32))
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`
  }

  open(sealed: string): string {
    if (!sealed.startsWith('v1.')) throw new Error('unknown credential format')
    const raw = Buffer.from(sealed.slice(3), 'base64')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
  }
}
