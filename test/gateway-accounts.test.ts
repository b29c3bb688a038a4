import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { eventually, startTestGateway, type TestGateway } from './support/gateway.ts'

let t: TestGateway
beforeAll(async () => {
  t = await startTestGateway({ claude: { api_keys: [] } })
})
afterAll(() => t.close())

const KEY = 'sk-ant-api03-stored-account-key-ABCD1234'

describe('upstream accounts', () => {
  it('no account at all is a 503 that says so, not an overload, and that a retry will not help', async () => {
    const { token } = await t.mintToken()
    const before = t.exchanges.length
    // the SDK's default retries (2): x-should-retry: false makes it give up after the first answer
    const err = await new Anthropic({ baseURL: t.url, apiKey: token })
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e)
    await eventually(() => expect(t.exchanges.length).toBe(before + 1))
    await new Promise((r) => setTimeout(r, 100))
    expect(t.exchanges.length).toBe(before + 1)
    expect(err.status).toBe(503)
    expect(err.error.error.type).toBe('api_error')
    expect(err.error.error.message).toMatch(/no upstream account configured/)
    expect(err.headers.get('x-should-retry')).toBe('false')
    expect(err.headers.get('retry-after')).toBeNull()
    const openai = await new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token })
      .chat.completions.create({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e)
    expect(openai.status).toBe(503)
    expect(openai.code).toBe('no_upstream_account')
    expect(openai.message).toMatch(/no upstream account configured/)
  })

  it('still lists the models it knows when no upstream can be asked', async () => {
    const { token } = await t.mintToken()
    const res = await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { object: string; data: Array<{ id: string; owned_by: string }> }
    expect(body.object).toBe('list')
    expect(body.data.length).toBeGreaterThan(0)
    expect(body.data.every((m) => m.id.startsWith('claude-') && m.owned_by === 'anthropic')).toBe(true)
    expect(t.upstream.requests).toHaveLength(0)
  })

  it('retrieves a model it knows when no upstream can be asked; another is the no-account 503', async () => {
    const { token } = await t.mintToken()
    const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
    expect(await client.models.retrieve('claude-sonnet-4-5')).toMatchObject({ id: 'claude-sonnet-4-5', object: 'model', owned_by: 'anthropic' })
    const err = await client.models.retrieve('claude-nonesuch-1').catch((e) => e)
    expect(err.status).toBe(503)
    expect(err.message).toMatch(/no upstream account configured/)
    expect(t.upstream.requests).toHaveLength(0)
  })

  it('adds an API-key account, uses it, and never returns the key', async () => {
    const added = await t.admin('POST', '/api/account/apikey', { name: 'team key', api_key: KEY, priority: 1 })
    expect(added.status).toBe(200)
    expect(added.body).toMatchObject({ name: 'team key', type: 'api_key', source: 'stored', priority: 1, is_active: true, status: 'healthy', key_hint: 'sk-ant-…1234' })
    expect(JSON.stringify(added.body)).not.toContain(KEY)

    const { token } = await t.mintToken()
    const msg = await new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'stored account' }] })
    expect(msg.content[0]).toMatchObject({ text: 'Echo: stored account' })
    expect(t.upstream.requests.at(-1)!.apiKey).toBe(KEY)

    const list = await t.admin('GET', '/api/account/list')
    expect(Array.isArray(list.body)).toBe(true)
    expect(list.body[0]).toMatchObject({ id: added.body.id, success_count: 1 })
    expect(JSON.stringify(list.body)).not.toContain(KEY)
    const one = await t.admin('GET', `/api/account/${added.body.id}`)
    expect(one.body.id).toBe(added.body.id)
  })

  it('stores credentials encrypted at rest', async () => {
    const rs = await t.gateway.services.warehouse.client.query({ query: 'SELECT credentials, key_hint FROM account_credentials', format: 'JSONEachRow' })
    const rows = await rs.json<{ credentials: string; key_hint: string }>()
    expect(rows.length).toBeGreaterThan(0)
    for (const row of rows) {
      expect(row.credentials).toMatch(/^v1\./)
      expect(row.credentials).not.toContain('sk-ant')
      expect(Buffer.from(row.credentials.slice(3), 'base64').toString('latin1')).not.toContain('ABCD1234')
    }
  })

  it('updates, deactivates and deletes an account; unknown ids are 404', async () => {
    const { body: account } = await t.admin('POST', '/api/account/apikey', { name: 'temp', api_key: 'sk-ant-api03-temporary-key-0000000000' })
    const renamed = await t.admin('PUT', `/api/account/${account.id}`, { name: 'renamed', is_active: false })
    expect(renamed.status).toBe(200)
    expect(renamed.body.account).toMatchObject({ name: 'renamed', is_active: false })
    expect((await t.admin('PUT', `/api/account/${account.id}`, { colour: 'red' })).status).toBe(400)
    expect((await t.admin('DELETE', `/api/account/${account.id}`)).status).toBe(200)
    expect((await t.admin('GET', `/api/account/${account.id}`)).status).toBe(404)
    expect((await t.admin('DELETE', `/api/account/${account.id}`)).status).toBe(404)
    expect((await t.admin('PUT', '/api/account/acc_nope', { name: 'x' })).status).toBe(404)
    expect((await t.admin('POST', '/api/account/apikey', { name: 'x', api_key: 'short' })).status).toBe(400)
  })

  it('accounts from config are listed but read-only', async () => {
    const withConfig = await startTestGateway()
    try {
      const list = await withConfig.admin('GET', '/api/account/list')
      expect(list.body.map((a: any) => a.source)).toEqual(['config', 'config'])
      const res = await withConfig.admin('DELETE', `/api/account/${list.body[0].id}`)
      expect(res.status).toBe(409)
    } finally {
      await withConfig.close()
    }
  })
})
