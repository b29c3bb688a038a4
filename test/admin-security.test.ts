import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../src/config.ts'
import { ensureSecrets, WeakSecretError } from '../src/secrets.ts'
import { FailedAttempts, addressKey } from '../src/admin/failed-attempts.ts'
import { requireAdmin } from '../src/admin/auth.ts'
import { Spool } from '../src/sinks/spool.ts'
import { startTestGateway, type TestGateway, ADMIN_KEY, json } from './support/gateway.ts'

const mode = (path: string) => statSync(path).mode & 0o777
const freshDir = () => join(mkdtempSync(join(tmpdir(), 'ccproxy-secrets-')), 'data')
const configFor = (dataDir: string, overrides: Record<string, any> = {}): Config => loadConfig({ file: 'none.yaml', env: {}, overrides: { data_dir: dataDir, ...overrides } })

describe('secrets fail closed', () => {
  it('an empty, blank or short admin.key file stops start-up with one line naming the key and its variable', () => {
    for (const content of ['', '\n', '   \n', 'short-key\n']) {
      const dir = freshDir()
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, 'admin.key'), content, { mode: 0o600 })
      const err = (() => {
        try {
          ensureSecrets(configFor(dir))
        } catch (e) {
          return e as Error
        }
      })()
      expect(err, JSON.stringify(content)).toBeInstanceOf(WeakSecretError)
      expect(err!.message).not.toContain('\n')
      expect(err!.message).toContain(join(dir, 'admin.key'))
      expect(err!.message).toContain('admin.key (CCPROXY_ADMIN_KEY)')
      expect(err!.message).toContain('at least 16 characters')
      if (content.startsWith('short')) expect(err!.message).not.toContain('short-key')
    }
  })

  it('a blank or short configured admin key or JWT secret stops start-up, without echoing it', () => {
    const cases: Array<[Record<string, any>, RegExp]> = [
      [{ admin: { key: '   ' } }, /^admin\.key \(CCPROXY_ADMIN_KEY\) is blank: it must be at least 16 characters/],
      [{ admin: { key: 'fifteen-chars!!' } }, /^admin\.key \(CCPROXY_ADMIN_KEY\) is 15 characters long: it must be at least 16 characters/],
      [{ jwt: { secret: 'x'.repeat(31) } }, /^jwt\.secret \(CCPROXY_JWT_SECRET\) is 31 bytes long: it must be at least 32 bytes/],
      // bytes, not characters: this is 16 characters but 32 bytes of HMAC key — enough
    ]
    for (const [overrides, message] of cases) {
      expect(() => ensureSecrets(configFor(freshDir(), overrides))).toThrow(message)
      try {
        ensureSecrets(configFor(freshDir(), overrides))
      } catch (e) {
        expect((e as Error).message).not.toContain('fifteen-chars!!')
        expect((e as Error).message).not.toContain('x'.repeat(31))
      }
    }
    const ok = ensureSecrets(configFor(freshDir(), { admin: { key: 'sixteen-chars!!!' }, jwt: { secret: 'é'.repeat(16) } }))
    expect(ok.config.admin.key).toBe('sixteen-chars!!!')
  })

  it('a short jwt.secret file stops start-up too', () => {
    const dir = freshDir()
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'jwt.secret'), 'too-short\n', { mode: 0o600 })
    expect(() => ensureSecrets(configFor(dir))).toThrow(/jwt\.secret holds a jwt\.secret of 9 bytes: it must be at least 32 bytes; delete the file .* or set jwt\.secret \(CCPROXY_JWT_SECRET\)/)
  })

  it('the admin check refuses to be built with a key that would match an empty header', () => {
    const attempts = new FailedAttempts({ maxFailures: 3, windowMs: 1000 })
    expect(() => requireAdmin('', attempts)).toThrow(/at least 16 characters/)
    expect(() => requireAdmin('x'.repeat(15), attempts)).toThrow(/at least 16 characters/)
  })
})

describe('secret files and the data directory', () => {
  it('generates secrets whole, 0600, in a 0700 directory, and leaves no temporary file', () => {
    const dir = freshDir()
    const first = ensureSecrets(configFor(dir))
    expect(mode(dir)).toBe(0o700)
    expect(mode(join(dir, 'admin.key'))).toBe(0o600)
    expect(mode(join(dir, 'jwt.secret'))).toBe(0o600)
    expect(readdirSync(dir).sort()).toEqual(['admin.key', 'jwt.secret'])
    expect(readFileSync(join(dir, 'admin.key'), 'utf8')).toBe(`${first.generatedAdminKey}\n`)
    expect(first.config.jwt.secret.length).toBeGreaterThanOrEqual(32)
    // a second start reads them back and reports nothing generated
    const second = ensureSecrets(configFor(dir))
    expect(second.generatedAdminKey).toBeUndefined()
    expect(second.config.admin.key).toBe(first.config.admin.key)
    expect(second.config.jwt.secret).toBe(first.config.jwt.secret)
  })

  it('tightens a data directory and secret files left open to other users', () => {
    const dir = freshDir()
    ensureSecrets(configFor(dir))
    chmodSync(dir, 0o755)
    chmodSync(join(dir, 'admin.key'), 0o644)
    chmodSync(join(dir, 'jwt.secret'), 0o664)
    const { warnings } = ensureSecrets(configFor(dir))
    expect(warnings).toEqual([])
    expect(mode(dir)).toBe(0o700)
    expect(mode(join(dir, 'admin.key'))).toBe(0o600)
    expect(mode(join(dir, 'jwt.secret'))).toBe(0o600)
  })

  it('the spool directory is 0700 and its segment files 0600', async () => {
    const dir = join(freshDir(), 'spool')
    const spool = new Spool(dir, { maxBytes: 1e6 })
    await spool.ready()
    expect(await spool.append({ token: 't', request_logs: [], conversation_contents: [] })).toEqual({ ok: true })
    expect(mode(dir)).toBe(0o700)
    const segments = readdirSync(dir).filter((f) => f.startsWith('segment-'))
    expect(segments.length).toBe(1)
    expect(mode(join(dir, segments[0]!))).toBe(0o600)
  })
})

describe('FailedAttempts', () => {
  const clock = () => {
    let now = 1_000_000
    return { now: () => now, advance: (ms: number) => (now += ms) }
  }

  it('locks an address after maxFailures wrong keys until its window ends', () => {
    const c = clock()
    const attempts = new FailedAttempts({ maxFailures: 3, windowMs: 60_000, now: c.now })
    for (let i = 0; i < 2; i++) attempts.fail('10.0.0.1')
    expect(attempts.lockedFor('10.0.0.1')).toBe(0)
    c.advance(10_000)
    attempts.fail('10.0.0.1')
    expect(attempts.lockedFor('10.0.0.1')).toBe(50_000)
    expect(attempts.lockedFor('10.0.0.2')).toBe(0)
    c.advance(49_999)
    expect(attempts.lockedFor('10.0.0.1')).toBe(1)
    c.advance(1)
    expect(attempts.lockedFor('10.0.0.1')).toBe(0)
    // a new window: two more wrong keys do not lock it again
    attempts.fail('10.0.0.1')
    attempts.fail('10.0.0.1')
    expect(attempts.lockedFor('10.0.0.1')).toBe(0)
  })

  it('keeps bounded memory against an attacker rotating addresses, dropping ended windows first', () => {
    const c = clock()
    const attempts = new FailedAttempts({ maxFailures: 3, windowMs: 60_000, maxAddresses: 100, now: c.now })
    for (let i = 0; i < 3; i++) attempts.fail('192.0.2.1')
    for (let i = 0; i < 10_000; i++) attempts.fail(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)
    expect(attempts.size).toBe(100)
    c.advance(60_000)
    attempts.fail('198.51.100.1')
    expect(attempts.size).toBe(1)
  })

  it('counts IPv6 addresses per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:db8:1:2:ffff:eeee:dddd:9')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('::ffff:10.0.0.1')).toBe('10.0.0.1')
    expect(addressKey('10.0.0.1')).toBe('10.0.0.1')
    const attempts = new FailedAttempts({ maxFailures: 2, windowMs: 60_000 })
    attempts.fail('2001:db8:1:2::1')
    attempts.fail('2001:db8:1:2::2')
    expect(attempts.lockedFor('2001:db8:1:2::3')).toBeGreaterThan(0)
    expect(attempts.lockedFor('2001:db8:1:3::1')).toBe(0)
  })
})

describe('wrong admin keys through the gateway', () => {
  let t: TestGateway
  beforeAll(async () => {
    // behind a trusted proxy, so each test address is its own X-Forwarded-For
    t = await startTestGateway({ server: { trusted_proxies: ['127.0.0.1'] }, admin: { key: ADMIN_KEY, max_failures: 3, failure_window: '1m' } })
  })
  afterAll(() => t.close())

  const list = (from: string, key?: string) =>
    fetch(`${t.url}/api/token/list`, { headers: { 'x-forwarded-for': from, ...(key !== undefined ? { 'x-admin-key': key } : {}) } })

  it('are answered 429 with Retry-After once an address has sent too many, whatever key it sends then', async () => {
    for (let i = 0; i < 3; i++) expect((await list('203.0.113.7', `wrong-key-${i}-0123456789`)).status).toBe(401)
    const locked = await list('203.0.113.7', 'wrong-key-3-0123456789')
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(50)
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(await json(locked)).toEqual({ error: expect.stringMatching(/too many wrong admin keys/) })
    // the right key from a locked address is refused too: otherwise the lock would still tell a right guess
    expect((await list('203.0.113.7', ADMIN_KEY)).status).toBe(429)
  })

  it('leave other addresses, and requests that carry no key, alone', async () => {
    expect((await list('203.0.113.8', ADMIN_KEY)).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await list('203.0.113.9')).status).toBe(401)
    for (let i = 0; i < 5; i++) expect((await list('203.0.113.9', ADMIN_KEY)).status).toBe(200)
    // the direct client address when X-Forwarded-For is absent: 127.0.0.1, not locked
    expect((await t.admin('GET', '/api/token/list')).status).toBe(200)
  })
})
