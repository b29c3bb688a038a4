import { Writable } from 'node:stream'
import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SessionStore } from '../src/admin/session-store.ts'
import { buildApp } from '../src/app.ts'
import { createLogger } from '../src/logging.ts'
import { loadConfig } from '../src/config.ts'
import { ADMIN_KEY, startTestGateway, type TestGateway } from './support/gateway.ts'

// The web app's sign-in: the admin key exchanged for an HttpOnly session cookie, the admin API reached with
// the cookie, cross-site writes refused, sign-out on the server. The gateway trusts 127.0.0.1 as a proxy, so
// each test speaks for a client address of its own (X-Forwarded-For) and the wrong-key lock of one test
// does not reach the next.

let t: TestGateway
let untrusted: TestGateway
const MAX_FAILURES = 3
const TRACE_URL = 'https://grafana.example.com/explore?left=%7B%22queries%22%3A%5B%7B%22query%22%3A%22{trace_id}%22%7D%5D%7D'
let addresses = 0
const nextAddress = () => `198.51.100.${++addresses}`

beforeAll(async () => {
  ;[t, untrusted] = await Promise.all([
    startTestGateway({ server: { trusted_proxies: ['127.0.0.1'] }, admin: { key: ADMIN_KEY, max_failures: MAX_FAILURES, failure_window: '5m' } }),
    startTestGateway({ ui: { session_ttl: '1s', trace_url: TRACE_URL } }),
  ])
})
afterAll(async () => {
  await Promise.all([t?.close(), untrusted?.close()])
})

interface Answer {
  status: number
  body: any
  headers: Headers
}

async function call(gw: TestGateway, method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const res = await fetch(gw.url + path, {
    method,
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
}

/** Signs in from `address`; the cookie as the browser would send it back, and the Set-Cookie as sent. */
async function signIn(gw: TestGateway, headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string; id: string }> {
  const res = await call(gw, 'POST', '/api/session', { body: { key: ADMIN_KEY }, headers })
  expect(res.status).toBe(204)
  const setCookie = res.headers.get('set-cookie')!
  const cookie = setCookie.split(';')[0]!
  return { cookie, setCookie, id: cookie.split('=')[1]! }
}

const app = (cookie: string, address: string, more: Record<string, string> = {}) => ({ cookie, 'x-forwarded-for': address, 'x-ccproxy-csrf': '1', ...more })

describe('POST /api/session', () => {
  it('exchanges the admin key for an HttpOnly, SameSite=Strict cookie with an expiry', async () => {
    const before = Date.now()
    const { setCookie, id, cookie } = await signIn(t, { 'x-forwarded-for': nextAddress() })
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(setCookie).toBe(`ccproxy_session=${id}; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict`)
    const res = await call(t, 'GET', '/api/session', { headers: { cookie } })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const expires = Date.parse(res.body.expires_at)
    expect(expires).toBeGreaterThanOrEqual(before + 12 * 3600_000)
    expect(expires).toBeLessThanOrEqual(Date.now() + 12 * 3600_000)
  })

  it('tells the signed-in app the trace viewer to link trace ids to (ui.trace_url), when there is one', async () => {
    const { cookie } = await signIn(t, { 'x-forwarded-for': nextAddress() })
    const without = await call(t, 'GET', '/api/session', { headers: { cookie } })
    expect(without.status).toBe(200)
    expect(without.body.trace_url).toBeUndefined()
    const other = await signIn(untrusted)
    const withUrl = await call(untrusted, 'GET', '/api/session', { headers: { cookie: other.cookie } })
    expect(withUrl.body).toMatchObject({ trace_url: TRACE_URL })
    // a template without the place for the id, or not http(s), stops start-up naming the key
    for (const bad of ['https://grafana.example.com/explore', 'javascript:alert({trace_id})']) {
      expect(() => loadConfig({ env: {}, file: '/nonexistent', overrides: { ui: { trace_url: bad } } })).toThrow(/ui\.trace_url/)
    }
  })

  it('every sign-in is a session of its own', async () => {
    const a = await signIn(t, { 'x-forwarded-for': nextAddress() })
    const b = await signIn(t, { 'x-forwarded-for': nextAddress() })
    expect(a.id).not.toBe(b.id)
  })

  it('marks the cookie Secure when the client came over HTTPS through a trusted proxy', async () => {
    const { setCookie } = await signIn(t, { 'x-forwarded-for': nextAddress(), 'x-forwarded-proto': 'https' })
    expect(setCookie).toMatch(/; Secure$/)
  })

  it('ignores X-Forwarded-Proto from a client that is not a trusted proxy', async () => {
    const { setCookie } = await signIn(untrusted, { 'x-forwarded-proto': 'https' })
    expect(setCookie).not.toContain('Secure')
  })

  it('a wrong key says so, is counted, and locks the address like a wrong X-Admin-Key', async () => {
    const address = nextAddress()
    for (let i = 0; i < MAX_FAILURES; i++) {
      const res = await call(t, 'POST', '/api/session', { body: { key: 'not-the-admin-key-at-all' }, headers: { 'x-forwarded-for': address } })
      expect(res.status).toBe(401)
      expect(res.body).toEqual({ error: 'wrong admin key' })
      expect(res.headers.get('set-cookie')).toBeNull()
    }
    // locked: the right key gets no session, and X-Admin-Key is locked out too
    const locked = await call(t, 'POST', '/api/session', { body: { key: ADMIN_KEY }, headers: { 'x-forwarded-for': address } })
    expect(locked.status).toBe(429)
    expect(locked.body.error).toMatch(/too many wrong admin keys from this address; try again in \d+s/)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(locked.headers.get('set-cookie')).toBeNull()
    expect((await call(t, 'GET', '/api/token/list', { headers: { 'x-admin-key': ADMIN_KEY, 'x-forwarded-for': address } })).status).toBe(429)
    // another address is not affected
    await signIn(t, { 'x-forwarded-for': nextAddress() })
  })

  it('wrong X-Admin-Keys and wrong sign-ins share one count', async () => {
    const address = nextAddress()
    for (let i = 0; i < MAX_FAILURES - 1; i++) {
      expect((await call(t, 'GET', '/api/token/list', { headers: { 'x-admin-key': 'wrong-wrong-wrong-wrong', 'x-forwarded-for': address } })).status).toBe(401)
    }
    expect((await call(t, 'POST', '/api/session', { body: { key: 'wrong-wrong-wrong-wrong' }, headers: { 'x-forwarded-for': address } })).status).toBe(401)
    expect((await call(t, 'POST', '/api/session', { body: { key: ADMIN_KEY }, headers: { 'x-forwarded-for': address } })).status).toBe(429)
  })

  it('a missing key is a 400, not a guess', async () => {
    const address = nextAddress()
    for (const body of [{}, { key: '' }, { key: 5 }]) {
      for (let i = 0; i < MAX_FAILURES; i++) {
        const res = await call(t, 'POST', '/api/session', { body, headers: { 'x-forwarded-for': address } })
        expect(res.status, JSON.stringify(body)).toBe(400)
        expect(res.body.error).toMatch(/^key: /)
      }
    }
    expect((await call(t, 'POST', '/api/session', { body: { key: 'x', extra: 1 }, headers: { 'x-forwarded-for': address } })).status).toBe(400)
    await signIn(t, { 'x-forwarded-for': address })
  })

  it('refuses a sign-in posted from another site’s page', async () => {
    const res = await call(t, 'POST', '/api/session', { body: { key: ADMIN_KEY }, headers: { 'x-forwarded-for': nextAddress(), origin: 'https://evil.example' } })
    expect(res.status).toBe(403)
    expect(res.body).toEqual({ error: 'cross-site request refused' })
    expect(res.headers.get('set-cookie')).toBeNull()
  })
})

describe('the admin API with the session cookie', () => {
  it('reads with the cookie alone; without cookie or key it is a 401', async () => {
    const address = nextAddress()
    const { cookie } = await signIn(t, { 'x-forwarded-for': address })
    const list = await call(t, 'GET', '/api/token/list', { headers: { cookie, 'x-forwarded-for': address } })
    expect(list.status).toBe(200)
    expect(Array.isArray(list.body.tokens)).toBe(true)
    // the cookie among others, as a browser sends it
    expect((await call(t, 'GET', '/api/stats/realtime', { headers: { cookie: `theme=dark; ${cookie}; lang=zh-CN` } })).status).toBe(200)
    const none = await call(t, 'GET', '/api/token/list')
    expect(none.status).toBe(401)
    expect(none.body).toEqual({ error: 'invalid or missing admin key' })
  })

  it('changes state only with X-CCProxy-CSRF: 1 and no foreign Origin', async () => {
    const address = nextAddress()
    const { cookie } = await signIn(t, { 'x-forwarded-for': address })
    const body = { name: 'from-the-app' }
    const refused = [
      { cookie, 'x-forwarded-for': address }, // no header
      app(cookie, address, { 'x-ccproxy-csrf': '0' }),
      app(cookie, address, { origin: 'https://evil.example' }),
      app(cookie, address, { origin: 'null' }),
      app(cookie, address, { origin: `${t.url}.evil.example` }),
      app(cookie, address, { origin: t.url.replace('http:', 'https:') }), // another scheme is another origin
    ]
    for (const headers of refused) {
      const res = await call(t, 'POST', '/api/token/generate', { body, headers })
      expect(res.status, JSON.stringify(headers)).toBe(403)
      expect(res.body).toEqual({ error: 'cross-site request refused' })
    }
    const tokens = await call(t, 'GET', '/api/token/list', { headers: { cookie } })
    expect(tokens.body.tokens.filter((tk: any) => tk.name === 'from-the-app')).toEqual([])

    const minted = await call(t, 'POST', '/api/token/generate', { body, headers: app(cookie, address, { origin: t.url }) })
    expect(minted.status).toBe(200)
    // without Origin (not every browser sends it on same-origin requests) the header suffices
    const settings = await call(t, 'PUT', `/api/token/${minted.body.id}/settings`, { body: { enable_conversation_logging: true }, headers: app(cookie, address) })
    expect(settings.status).toBe(200)
    const revokeRefused = await call(t, 'POST', '/api/token/revoke', { body: { id: minted.body.id }, headers: { cookie, 'x-forwarded-for': address } })
    expect(revokeRefused.status).toBe(403)
    const deleteRefused = await call(t, 'DELETE', `/api/conversations/${randomUUID()}`, { headers: { cookie, origin: 'https://evil.example', 'x-ccproxy-csrf': '1' } })
    expect(deleteRefused.status).toBe(403)
    expect((await call(t, 'DELETE', `/api/conversations/${randomUUID()}`, { headers: app(cookie, address) })).status).toBe(404)
  })

  it('X-Admin-Key needs no CSRF header (scripts and curl)', async () => {
    const res = await call(t, 'POST', '/api/token/generate', { body: { name: 'scripted' }, headers: { 'x-admin-key': ADMIN_KEY, 'x-forwarded-for': nextAddress() } })
    expect(res.status).toBe(200)
  })

  it('an unknown or malformed cookie is an expired session, and is never counted as a guess', async () => {
    const address = nextAddress()
    for (const value of [randomBytes(32).toString('base64url'), 'short', '', '"quoted"']) {
      for (let i = 0; i < MAX_FAILURES + 1; i++) {
        const res = await call(t, 'GET', '/api/token/list', { headers: { cookie: `ccproxy_session=${value}`, 'x-forwarded-for': address } })
        expect(res.status, value).toBe(401)
        expect(res.body).toEqual({ error: 'session expired' })
      }
    }
    const session = await call(t, 'GET', '/api/session', { headers: { cookie: `ccproxy_session=${randomBytes(32).toString('base64url')}` } })
    expect(session.status).toBe(401)
    expect(session.body).toEqual({ error: 'session expired' })
    expect((await call(t, 'GET', '/api/session')).body).toEqual({ error: 'not signed in' })
    await signIn(t, { 'x-forwarded-for': address })
  })
})

describe('DELETE /api/session', () => {
  it('signs out on the server: the cookie stops working at once, and the browser is told to drop it', async () => {
    const address = nextAddress()
    const { cookie } = await signIn(t, { 'x-forwarded-for': address })
    // sign-out is a write like any other: refused without the header, the session stays
    expect((await call(t, 'DELETE', '/api/session', { headers: { cookie, 'x-forwarded-for': address } })).status).toBe(403)
    expect((await call(t, 'GET', '/api/session', { headers: { cookie } })).status).toBe(200)

    const out = await call(t, 'DELETE', '/api/session', { headers: app(cookie, address) })
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toBe('ccproxy_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict')
    // a copy of the cookie kept elsewhere is worth nothing now
    const after = await call(t, 'GET', '/api/token/list', { headers: { cookie, 'x-forwarded-for': address } })
    expect(after.status).toBe(401)
    expect(after.body).toEqual({ error: 'session expired' })
    expect((await call(t, 'GET', '/api/session', { headers: { cookie } })).status).toBe(401)
    // signing out twice, or without a session, is fine
    expect((await call(t, 'DELETE', '/api/session', { headers: app(cookie, address) })).status).toBe(204)
    expect((await call(t, 'DELETE', '/api/session')).status).toBe(204)
  })

  it('ends only its own session', async () => {
    const a = await signIn(t, { 'x-forwarded-for': nextAddress() })
    const b = await signIn(t, { 'x-forwarded-for': nextAddress() })
    expect((await call(t, 'DELETE', '/api/session', { headers: { cookie: a.cookie, 'x-ccproxy-csrf': '1' } })).status).toBe(204)
    expect((await call(t, 'GET', '/api/session', { headers: { cookie: b.cookie } })).status).toBe(200)
  })
})

describe('expiry', () => {
  it('a session ends session_ttl after sign-in: 401 session expired', async () => {
    const { cookie, setCookie } = await signIn(untrusted)
    expect(setCookie).toContain('Max-Age=1;')
    expect((await call(untrusted, 'GET', '/api/token/list', { headers: { cookie } })).status).toBe(200)
    await new Promise((r) => setTimeout(r, 1100))
    const res = await call(untrusted, 'GET', '/api/token/list', { headers: { cookie } })
    expect(res.status).toBe(401)
    expect(res.body).toEqual({ error: 'session expired' })
  })
})

describe('logs', () => {
  it('never carry the session id, the cookie or the admin key', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const logged = buildApp(t.gateway.services, { logger: createLogger('debug', sink) })
    const signedIn = await logged.inject({ method: 'POST', url: '/api/session', payload: { key: ADMIN_KEY } })
    expect(signedIn.statusCode).toBe(204)
    const id = String(signedIn.headers['set-cookie']).split(';')[0]!.split('=')[1]!
    const cookie = `ccproxy_session=${id}`
    expect((await logged.inject({ method: 'GET', url: '/api/token/list', headers: { cookie } })).statusCode).toBe(200)
    expect((await logged.inject({ method: 'POST', url: '/api/token/generate', headers: { cookie }, payload: { name: 'x' } })).statusCode).toBe(403)
    expect((await logged.inject({ method: 'GET', url: '/api/session', headers: { cookie } })).statusCode).toBe(200)
    expect((await logged.inject({ method: 'DELETE', url: '/api/session', headers: { cookie, 'x-ccproxy-csrf': '1' } })).statusCode).toBe(204)
    expect((await logged.inject({ method: 'GET', url: '/api/token/list', headers: { cookie } })).statusCode).toBe(401)
    await logged.close()
    const text = lines.join('')
    expect(text).toContain('"route":"/api/session"')
    expect(text).not.toContain(id)
    expect(text).not.toContain(ADMIN_KEY)
    expect(text.toLowerCase()).not.toContain('cookie')
  })
})

describe('SessionStore', () => {
  const clock = () => {
    let now = 1_000_000
    return { now: () => now, advance: (ms: number) => (now += ms) }
  }

  it('a session lives ttl from its creation, not a millisecond more', () => {
    const c = clock()
    const store = new SessionStore({ ttlMs: 60_000, now: c.now })
    const s = store.create()
    expect(s.expiresAt).toBe(1_060_000)
    c.advance(59_999)
    expect(store.expiresAt(s.id)).toBe(1_060_000)
    c.advance(1)
    expect(store.expiresAt(s.id)).toBeUndefined()
  })

  it('use does not extend it (a fixed lifetime, like the cookie)', () => {
    const c = clock()
    const store = new SessionStore({ ttlMs: 10_000, now: c.now })
    const s = store.create()
    for (let i = 0; i < 9; i++) {
      c.advance(1000)
      expect(store.expiresAt(s.id)).toBe(s.expiresAt)
    }
    c.advance(1000)
    expect(store.expiresAt(s.id)).toBeUndefined()
  })

  it('sweeps ended sessions, so memory holds only live ones', () => {
    const c = clock()
    const store = new SessionStore({ ttlMs: 1000, now: c.now })
    for (let i = 0; i < 50; i++) store.create()
    expect(store.size).toBe(50)
    c.advance(500)
    const live = store.create()
    c.advance(600)
    expect(store.expiresAt(live.id)).toBe(live.expiresAt)
    expect(store.size).toBe(1)
  })

  it('is bounded: when full, the oldest session makes room', () => {
    const c = clock()
    const store = new SessionStore({ ttlMs: 60_000, maxSessions: 3, now: c.now })
    const ids = [0, 1, 2, 3].map(() => {
      c.advance(1)
      return store.create().id
    })
    expect(store.size).toBe(3)
    expect(store.expiresAt(ids[0]!)).toBeUndefined()
    for (const id of ids.slice(1)) expect(store.expiresAt(id)).toBeDefined()
  })

  it('delete ends one session; unknown ids are ignored', () => {
    const store = new SessionStore({ ttlMs: 60_000 })
    const a = store.create()
    const b = store.create()
    store.delete(a.id)
    store.delete('nobody')
    expect(store.expiresAt(a.id)).toBeUndefined()
    expect(store.expiresAt(b.id)).toBeDefined()
  })
})
