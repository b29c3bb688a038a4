import { randomBytes, createHash, timingSafeEqual, hkdfSync, createCipheriv, createDecipheriv } from 'node:crypto'
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Config } from './config.ts'

/**
 * Shortest secrets accepted. The admin key is only ever guessed online, against a rate limit, so 16
 * characters (the generated one has 32 random base64url characters, 192 bits) is ample. The JWT secret can be
 * attacked offline by anyone holding one token, and RFC 7518 §3.2 requires an HS256 key of at least the hash
 * size: 32 bytes. It is also the key the stored account credentials are derived from.
 */
export const MIN_ADMIN_KEY_CHARS = 16
export const MIN_JWT_SECRET_BYTES = 32
export const MIN_READER_PASSWORD_CHARS = 16

/** A secret that is configured, or kept in a file of the data directory and generated there on first start. */
interface SecretSpec {
  /** the config key, e.g. admin.key; its environment variable is derived from it */
  key: string
  /** file name in the data directory */
  file: string
  min: number
  unit: 'characters' | 'bytes'
  generate: () => string
}

const ADMIN_KEY: SecretSpec = {
  key: 'admin.key',
  file: 'admin.key',
  min: MIN_ADMIN_KEY_CHARS,
  unit: 'characters',
  generate: () => `ccp_admin_${randomBytes(24).toString('base64url')}`,
}
const JWT_SECRET: SecretSpec = { key: 'jwt.secret', file: 'jwt.secret', min: MIN_JWT_SECRET_BYTES, unit: 'bytes', generate: () => randomBytes(48).toString('base64url') }
const READER_PASSWORD: SecretSpec = {
  key: 'clickhouse.embedded.http_password',
  file: 'clickhouse.password',
  min: MIN_READER_PASSWORD_CHARS,
  unit: 'characters',
  generate: () => randomBytes(24).toString('base64url'),
}

/** A secret that is empty or too short: start-up stops with this one line. */
export class WeakSecretError extends Error {}

/**
 * A fresh clone must start with no config edits: an admin key or JWT secret that is not configured is
 * generated once and kept in the data directory, so restarts keep accepting the same tokens. Nothing fails
 * open: a blank or short secret, configured or in its file, stops start-up. The data directory is made (or
 * tightened to) 0700 and the secret files 0600. Returns the config with both filled in, the admin key when
 * it was generated just now, and what could not be tightened (the caller logs it).
 */
export function ensureSecrets(config: Config): { config: Config; generatedAdminKey?: string; warnings: string[] } {
  const warnings = privateDir(config.data_dir)
  const admin = resolveSecret(ADMIN_KEY, config.admin.key, config.data_dir, warnings)
  const jwt = resolveSecret(JWT_SECRET, config.jwt.secret, config.data_dir, warnings)
  return {
    config: { ...config, admin: { ...config.admin, key: admin.value }, jwt: { ...config.jwt, secret: jwt.value } },
    ...(admin.created ? { generatedAdminKey: admin.value } : {}),
    warnings,
  }
}

/**
 * The password of the embedded engine's HTTP interface: configured, or generated once into
 * `<data_dir>/clickhouse.password`; fails closed like the other secrets. Returns the config with it filled in,
 * and the password when it was generated just now (printed once, like the admin key).
 */
export function ensureReaderPassword(config: Config): { config: Config; generatedPassword?: string } {
  const password = resolveSecret(READER_PASSWORD, config.clickhouse.embedded.http_password, config.data_dir, [])
  const embedded = { ...config.clickhouse.embedded, http_password: password.value }
  return {
    config: { ...config, clickhouse: { ...config.clickhouse, embedded } },
    ...(password.created ? { generatedPassword: password.value } : {}),
  }
}

/** Refuses a config whose secrets would let anyone in: for code that builds services without ensureSecrets. */
export function assertSecrets(config: Pick<Config, 'admin' | 'jwt'>): void {
  checkConfigured(ADMIN_KEY, config.admin.key)
  checkConfigured(JWT_SECRET, config.jwt.secret)
}

const envName = (key: string) => `CCPROXY_${key.replace(/\./g, '_').toUpperCase()}`
const size = (spec: SecretSpec, value: string) => (spec.unit === 'bytes' ? Buffer.byteLength(value, 'utf8') : [...value].length)

function checkConfigured(spec: SecretSpec, value: string): void {
  const n = value.trim() === '' ? 0 : size(spec, value)
  if (n < spec.min) {
    throw new WeakSecretError(
      `${spec.key} (${envName(spec.key)}) is ${n === 0 ? 'blank' : `${n} ${spec.unit} long`}: it must be at least ${spec.min} ${spec.unit}; leave it unset to have one generated into <data_dir>/${spec.file}`,
    )
  }
}

function resolveSecret(spec: SecretSpec, configured: string, dataDir: string, warnings: string[]): { value: string; created: boolean } {
  if (configured !== '') {
    checkConfigured(spec, configured)
    return { value: configured, created: false }
  }
  const file = join(dataDir, spec.file)
  const created = createOnce(file, spec.generate)
  const value = readFileSync(file, 'utf8').trim()
  const n = value === '' ? 0 : size(spec, value)
  if (n < spec.min) {
    throw new WeakSecretError(
      `${file} ${n === 0 ? 'is empty' : `holds a ${spec.key} of ${n} ${spec.unit}`}: it must be at least ${spec.min} ${spec.unit}; delete the file to have one generated, or set ${spec.key} (${envName(spec.key)})`,
    )
  }
  if (!created) warnings.push(...tighten(file, 0o600))
  return { value, created }
}

/**
 * Writes a new secret file whole or not at all: the value goes to a private temporary file (0600, synced),
 * which is then linked into place — a link, unlike a rename, never replaces a file another process made first
 * (two replicas starting on one fresh volume end up with the same secret). Returns whether this call made it.
 */
function createOnce(file: string, generate: () => string): boolean {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const fd = openSync(temp, 'wx', 0o600)
  try {
    writeSync(fd, `${generate()}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temp, file)
    syncDir(dirname(file))
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    // a file system without hard links: a rename is still atomic, it just may replace a racing writer's file
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err
    renameSync(temp, file)
    syncDir(dirname(file))
    return true
  } finally {
    rmQuiet(temp)
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function rmQuiet(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already moved into place by the rename
  }
}

/**
 * A directory only this user can enter (0700): made so, or tightened when an older start or the operator
 * left it open to others. Returns a warning when it cannot be tightened (a directory owned by someone else).
 */
export function privateDir(dir: string): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return tighten(dir, 0o700)
}

/** Removes group and other permissions from a path that has any; a warning when that is not allowed. */
function tighten(path: string, mode: number): string[] {
  const current = statSync(path).mode & 0o777
  if ((current & 0o077) === 0) return []
  try {
    chmodSync(path, mode)
    return []
  } catch (err) {
    return [`${path} is readable by other users (mode ${current.toString(8)}) and could not be changed to ${mode.toString(8)}: ${(err as NodeJS.ErrnoException).code ?? err}`]
  }
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
