import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { startTestGateway, ADMIN_KEY, type TestGateway } from './support/gateway.ts'
import { buildApp, createServices } from '../src/app.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { TokenStore, type TokenRow } from '../src/warehouse/tokens.ts'
import { AccountStore } from '../src/warehouse/accounts.ts'
import { TokenRegistry } from '../src/tokens/registry.ts'

// Revocations, deletions and security-relevant account changes against admin changes running at the same
// time: on one gateway, and on two replicas of one database whose clocks are hours apart, one of them
// reaching ClickHouse through the embedded client and the other through @clickhouse/client over HTTP.

const ROUNDS = 6
const RACERS = 8
const HOURS = 3_600_000
const KEY = (n: number) => `sk-ant-api03-race-key-${String(n).padStart(6, '0')}-XYZ${n % 10}`

let t: TestGateway
let http: HttpInterface
const WRITER = { user: 'ccproxy', password: 'revocation-test-password' }
const clients: ClickHouseClient[] = []

beforeAll(async () => {
  // a short token cache, so replicas see each other's revocations quickly
  t = await startTestGateway({ auth: { token_cache_ttl: '50ms' } })
  http = await startHttpInterface(t.gateway.services.warehouse.engine!, { port: 0, readonly: false, ...WRITER })
})
afterAll(async () => {
  for (const c of clients) await c.close()
  await http?.close()
  await t?.close()
})

interface Replica {
  url: string
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  chat(token: string): Promise<number>
  close(): Promise<void>
}

const adminOf =
  (url: string): Replica['admin'] =>
  async (method, path, body) => {
    const res = await fetch(url + path, {
      method,
      headers: { 'x-admin-key': ADMIN_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined }
  }

const chatOf = (url: string) => async (token: string) => {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
  })
  await res.arrayBuffer()
  return res.status
}

/**
 * Another replica of the test gateway on the same database: its own app, token cache and account pool,
 * its own ClickHouse client (embedded or over HTTP), and a clock `offsetMs` away from the real one —
 * given to the stores through their clock parameter.
 */
async function replica(via: 'embedded' | 'http', offsetMs: number): Promise<Replica> {
  const base = t.gateway.services.warehouse
  const database = t.gateway.config.clickhouse.database
  const client = via === 'embedded' ? createEmbeddedClient(base.engine!, { database }) : createClient({ url: http.url, database, username: WRITER.user, password: WRITER.password })
  clients.push(client)
  const now = () => Date.now() + offsetMs
  const warehouse = { ...base, client, tokens: new TokenStore(client, now), accounts: new AccountStore(client, now) }
  const services = createServices(t.gateway.config, warehouse, () => {})
  await services.accounts.reload()
  const app = buildApp(services)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    admin: adminOf(url),
    chat: chatOf(url),
    async close() {
      await app.close()
      await services.close()
    },
  }
}

const here = (): Replica => ({ url: t.url, admin: t.admin, chat: chatOf(t.url), close: async () => {} })
const settle = () => new Promise((r) => setTimeout(r, 120)) // longer than the token cache TTL

async function expectRevoked(replicas: Replica[], id: string, token: string, round: number) {
  for (const r of replicas) {
    const listed = (await r.admin('GET', '/api/token/list')).body.tokens.find((x: any) => x.id === id)
    expect({ round, is_valid: listed.is_valid, revoked: Boolean(listed.revoked_at) }).toEqual({ round, is_valid: false, revoked: true })
    expect({ round, status: await r.chat(token) }).toEqual({ round, status: 401 })
  }
}

async function addAccount(r: Replica, name: string, key: string): Promise<string> {
  const res = await r.admin('POST', '/api/account/apikey', { name, api_key: key })
  expect(res.status).toBe(200)
  return res.body.id
}

async function accountOn(r: Replica, id: string) {
  const list = (await r.admin('GET', '/api/account/list')).body as any[]
  return list.find((a) => a.id === id)
}

describe('on one gateway, concurrent admin changes', () => {
  it('a revoke racing settings updates and requests stays revoked, every round', async () => {
    const r = here()
    for (let round = 0; round < ROUNDS; round++) {
      const { token, id } = await t.mintToken({ name: `race-${round}` })
      expect(await r.chat(token)).toBe(200)
      const settings = Array.from({ length: RACERS }, (_, i) =>
        r.admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: i % 2 === 0 }),
      )
      const requests = Array.from({ length: RACERS / 2 }, () => r.chat(token))
      const [revoke, ...rest] = await Promise.all([r.admin('POST', '/api/token/revoke', { id }), ...settings])
      await Promise.all(requests)
      expect({ status: revoke.status, body: revoke.body }).toEqual({ status: 200, body: { message: 'token revoked successfully', id } })
      for (const s of rest) expect(s.status).toBe(200)
      // at once on this gateway: no request that was in flight during the revoke re-caches the old row
      expect({ round, status: await r.chat(token) }).toEqual({ round, status: 401 })
      await settle()
      await expectRevoked([r], id, token, round)
    }
  })

  it('a deleted account stays deleted whatever updates race it', async () => {
    const r = here()
    for (let round = 0; round < ROUNDS; round++) {
      const id = await addAccount(r, `doomed-${round}`, KEY(100 + round))
      const updates = Array.from({ length: RACERS }, (_, i) => r.admin('PUT', `/api/account/${id}`, { name: `renamed-${i}`, priority: i }))
      const [removed, ...rest] = await Promise.all([r.admin('DELETE', `/api/account/${id}`), ...updates])
      expect({ status: removed.status, body: removed.body }).toEqual({ status: 200, body: { message: 'account deleted', id } })
      for (const u of rest) expect([200, 404]).toContain(u.status)
      expect({ round, listed: await accountOn(r, id) }).toEqual({ round, listed: undefined })
      expect((await r.admin('GET', `/api/account/${id}`)).status).toBe(404)
    }
  })

  it('disabling an account or replacing its key is not undone by renames racing it', async () => {
    const r = here()
    for (let round = 0; round < ROUNDS; round++) {
      const id = await addAccount(r, `guarded-${round}`, KEY(200 + round))
      const renames = Array.from({ length: RACERS }, (_, i) => r.admin('PUT', `/api/account/${id}`, { name: `n-${i}` }))
      const results = await Promise.all([
        r.admin('PUT', `/api/account/${id}`, { is_active: false }),
        r.admin('PUT', `/api/account/${id}`, { api_key: KEY(300 + round) }),
        ...renames,
      ])
      for (const u of results) expect(u.status).toBe(200)
      const account = await accountOn(r, id)
      expect({ round, is_active: account.is_active, key_hint: account.key_hint }).toEqual({ round, is_active: false, key_hint: `sk-ant-…${KEY(300 + round).slice(-4)}` })
      expect(account.name).toMatch(/^n-\d$/)
    }
  })
})

describe.each([
  ['behind', 'embedded', -5 * HOURS],
  ['behind', 'http', -5 * HOURS],
  ['ahead', 'http', 5 * HOURS],
] as const)('two replicas, the second one %s by hours, over the %s client', (_, via, offsetMs) => {
  let a: Replica
  let b: Replica
  beforeAll(async () => {
    a = await replica('embedded', 0)
    b = await replica(via, offsetMs)
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
  })

  it('a revoke on either side wins over settings updates on both', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const [revoker, other] = round % 2 === 0 ? [a, b] : [b, a]
      const { token, id } = await t.mintToken({ name: `skew-${round}` })
      // the settings were last written by the other side, with its clock
      expect((await other.admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: true })).status).toBe(200)
      await Promise.all([
        revoker.admin('POST', '/api/token/revoke', { id }),
        ...Array.from({ length: RACERS }, (_, i) => (i % 2 ? a : b).admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: i % 3 === 0 })),
      ])
      // and once more after the revoke, from the side whose clock is furthest ahead
      expect((await (offsetMs > 0 ? b : a).admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: false })).status).toBe(200)
      await settle()
      await expectRevoked([a, b], id, token, round)
    }
  })

  it('the later settings change wins, whichever clock is behind', async () => {
    const { id } = await t.mintToken({ name: 'settings-skew' })
    for (const [r, on] of [[a, true], [b, false], [a, true], [b, true], [a, false]] as const) {
      expect((await r.admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: on })).status).toBe(200)
      for (const seen of [a, b]) {
        const listed = (await seen.admin('GET', '/api/token/list')).body.tokens.find((x: any) => x.id === id)
        expect(listed.enable_conversation_logging).toBe(on)
      }
    }
  })

  it('an account deleted on either side stays deleted; disable and key replacement beat renames on the other', async () => {
    for (let round = 0; round < ROUNDS / 2; round++) {
      const [actor, other] = round % 2 === 0 ? [a, b] : [b, a]
      const doomed = await addAccount(other, `x-doomed-${round}`, KEY(400 + round))
      const guarded = await addAccount(other, `x-guarded-${round}`, KEY(500 + round))
      // renamed first on the other side, so its version carries the other clock
      expect((await other.admin('PUT', `/api/account/${guarded}`, { name: 'first' })).status).toBe(200)
      await Promise.all([
        actor.admin('DELETE', `/api/account/${doomed}`),
        actor.admin('PUT', `/api/account/${guarded}`, { is_active: false }),
        actor.admin('PUT', `/api/account/${guarded}`, { api_key: KEY(600 + round) }),
        ...Array.from({ length: RACERS }, (_, i) =>
          other.admin('PUT', `/api/account/${i % 2 ? guarded : doomed}`, { name: `o-${i}`, priority: i }),
        ),
      ])
      for (const r of [a, b]) {
        expect({ round, doomed: await accountOn(r, doomed) }).toEqual({ round, doomed: undefined })
        const g = await accountOn(r, guarded)
        expect({ round, is_active: g.is_active, key_hint: g.key_hint }).toEqual({ round, is_active: false, key_hint: `sk-ant-…${KEY(600 + round).slice(-4)}` })
      }
      // a later rename on the side whose clock is behind still takes effect, and leaves the rest alone
      const behind = offsetMs < 0 ? b : a
      expect((await behind.admin('PUT', `/api/account/${guarded}`, { name: 'renamed later' })).status).toBe(200)
      expect((await behind.admin('PUT', `/api/account/${guarded}`, { is_active: true })).status).toBe(200)
      for (const r of [a, b]) expect(await accountOn(r, guarded)).toMatchObject({ name: 'renamed later', is_active: true, key_hint: `sk-ant-…${KEY(600 + round).slice(-4)}` })
      expect((await actor.admin('DELETE', `/api/account/${guarded}`)).status).toBe(200)
    }
  })
})

describe('the token cache', () => {
  it('does not keep a row read before a revocation made on this replica', async () => {
    const row: TokenRow = { id: 'tok', name: 'n', mode: 'both', created_at: new Date(), expires_at: new Date(Date.now() + 60_000), revoked_at: null, enable_conversation_logging: false }
    const reads: Array<(r: TokenRow) => void> = []
    const store = { get: () => new Promise<TokenRow>((resolve) => reads.push(resolve)) } as unknown as TokenStore
    const registry = new TokenRegistry(store, 60_000)
    const before = registry.get('tok') // a request's lookup, in flight while the token is revoked
    registry.forget('tok') // the revoke handler, done
    reads[0]!(row) // the lookup answers with the row as it was before the revocation
    expect(await before).toBe(row)
    const after = registry.get('tok')
    expect(reads).toHaveLength(2) // read again, not served from the cache
    reads[1]!({ ...row, revoked_at: new Date() })
    expect((await after)?.revoked_at).toBeInstanceOf(Date)
  })
})
