import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import type { ConditionChange } from '../src/accounts/pool.ts'
import { startTestGateway, UPSTREAM_KEYS, type TestGateway } from './support/gateway.ts'

// Issue 8 §7: what a new user hit.

let t: TestGateway
let token: string
beforeAll(async () => {
  t = await startTestGateway()
  ;({ token } = await t.mintToken())
}, 60_000)
afterAll(() => t?.close())

const anthropic = () => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
const openai = () => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
const refuseEveryKey = () => {
  for (const key of UPSTREAM_KEYS) t.upstream.forKey(key, { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' })
}
const healEveryKey = async () => {
  t.upstream.reset()
  // forget the rests: a fresh pool state for the next test
  t.gateway.services.pool.setAccounts([])
  await t.gateway.services.accounts.reload()
}

describe('GET /v1/models/:id (models.retrieve)', () => {
  it('answers both SDKs in their own shape, asking upstream for a model not in the list it holds', async () => {
    const viaAnthropic = await anthropic().models.retrieve('claude-haiku-4-5-20251001')
    expect(viaAnthropic).toEqual({ type: 'model', id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' })
    expect(t.upstream.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/models/claude-haiku-4-5-20251001' })
    const viaOpenai = await openai().models.retrieve('claude-haiku-4-5-20251001')
    expect(viaOpenai).toEqual({ id: 'claude-haiku-4-5-20251001', object: 'model', created: Date.parse('2025-10-01T00:00:00Z') / 1000, owned_by: 'anthropic' })
  })

  it('a model of the cached list is answered without asking upstream', async () => {
    await openai().models.list()
    const asked = t.upstream.requests.length
    expect((await openai().models.retrieve('claude-sonnet-4-6')).id).toBe('claude-sonnet-4-6')
    expect((await anthropic().models.retrieve('claude-sonnet-4-6')).display_name).toBe('Claude Sonnet 4.6')
    expect(t.upstream.requests).toHaveLength(asked)
  })

  it('an unknown model is a 404 in the caller dialect, and is recorded', async () => {
    const a = await anthropic().models.retrieve('claude-nonesuch-1').catch((e) => e)
    expect(a).toBeInstanceOf(Anthropic.NotFoundError)
    expect(a.error).toEqual({ type: 'error', error: { type: 'not_found_error', message: "model 'claude-nonesuch-1' not found" } })
    const o = await openai().models.retrieve('claude-nonesuch-1').catch((e) => e)
    expect(o).toBeInstanceOf(OpenAI.NotFoundError)
    expect(o.error).toMatchObject({ type: 'not_found_error', message: "model 'claude-nonesuch-1' not found" })
    expect(t.records.filter((r) => r.endpoint === 'models' && r.status_code === 404).length).toBeGreaterThanOrEqual(2)
    // an id past fastify's maxParamLength (100) still gets the caller's dialect, not the admin shape
    const long = await anthropic().models.retrieve('claude-' + 'x'.repeat(300)).catch((e) => e)
    expect(long.status).toBe(404)
    expect(long.error.error.type).toBe('not_found_error')
    const asked = t.upstream.requests.length
    const longish = await openai().models.retrieve('claude-' + 'x'.repeat(150)).catch((e) => e)
    expect(longish).toBeInstanceOf(OpenAI.NotFoundError)
    expect(longish.error.type).toBe('not_found_error')
    expect(t.upstream.requests).toHaveLength(asked + 1)
  })
})

describe('no upstream account to use', () => {
  it('all accounts resting is a 503 overload with Retry-After, that says they are resting', async () => {
    refuseEveryKey()
    const first = await anthropic().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(first.status).toBe(502)
    const next = await anthropic().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(next.status).toBe(503)
    expect(next.error.error).toEqual({ type: 'overloaded_error', message: 'every upstream account is resting after recent failures; retry later' })
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(0)
    await healEveryKey()
  })

  it('every account deactivated says so', async () => {
    const all = t.gateway.services.pool.accounts
    t.gateway.services.pool.setAccounts(all.map((a) => ({ ...a, isActive: false })))
    const err = await openai().chat.completions.create({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err.status).toBe(503)
    expect(err.message).toMatch(/every upstream account of the gateway is deactivated/)
    await healEveryKey()
  })
})

describe('upstream failures are reported once per account condition change', () => {
  // accounts rest 1 ms after a 401 (doubling), so every request below tries both keys again
  let g: TestGateway
  beforeAll(async () => {
    g = await startTestGateway({ claude: { auth_failure_cooldown: '1ms' } })
  }, 60_000)
  afterAll(() => g?.close())

  it('eight refused requests: each account turns refused once, and back to ok once', async () => {
    const { token: own } = await g.mintToken()
    const client = new Anthropic({ baseURL: g.url, apiKey: own, maxRetries: 0 })
    const ask = () => client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
    const changes: ConditionChange[] = []
    const pool = g.gateway.services.pool
    expect(pool.onChange).toBeTypeOf('function') // the server logs them
    const log = pool.onChange!
    pool.onChange = (c) => {
      changes.push(c)
      log(c)
    }
    for (const key of UPSTREAM_KEYS) g.upstream.forKey(key, { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' })
    for (let i = 0; i < 8; i++) {
      expect((await ask().catch((e) => e)).status).toBe(502)
      await new Promise((r) => setTimeout(r, 2 ** i + 5))
    }
    expect(g.upstream.requests.length).toBe(16)
    const names = pool.accounts.map((a) => a.name)
    expect(changes.map((c) => [c.name, c.from, c.to, c.detail]).sort()).toEqual(names.map((n) => [n, 'ok', 'refused', 'upstream refused the credentials (401)']).sort())
    g.upstream.reset()
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 0; i < 4; i++) await ask()
    expect(changes.slice(2).map((c) => [c.name, c.from, c.to]).sort()).toEqual(names.map((n) => [n, 'refused', 'ok']).sort())
  })
})
