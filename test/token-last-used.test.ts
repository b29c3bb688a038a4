import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { startTestGateway, type TestGateway, json } from './support/gateway.ts'

// Last-used times reach ClickHouse in one write a minute; the admin API must not say "never used" meanwhile.
let t: TestGateway
beforeAll(async () => {
  t = await startTestGateway()
})
afterAll(() => t.close())

const listed = async (id: string) => (await t.admin('GET', '/api/token/list')).body.tokens.find((x: any) => x.id === id)

describe('last used', () => {
  it('the token list shows a use at once, before the minute’s write to ClickHouse', async () => {
    const { token, id } = await t.mintToken({ name: 'fresh' })
    expect((await listed(id)).last_used_at).toBeUndefined()

    const before = Date.now()
    const client = new Anthropic({ apiKey: token, baseURL: t.url, maxRetries: 0 })
    await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })

    const usedAt = Date.parse((await listed(id)).last_used_at)
    expect(usedAt).toBeGreaterThanOrEqual(before - 1000)
    expect(usedAt).toBeLessThanOrEqual(Date.now())
    // nothing was written yet: the answer came from the gateway's own memory
    expect(await t.rows('SELECT * FROM token_last_used WHERE token_id = {id:String}', { id })).toEqual([])
  })

  it('GET /api/token/info answers the latest use too, and a later use moves it forward', async () => {
    const { token, id } = await t.mintToken({ name: 'info' })
    const client = new OpenAI({ apiKey: token, baseURL: `${t.url}/v1`, maxRetries: 0 })
    await client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] })
    const first = Date.parse((await listed(id)).last_used_at)

    await new Promise((r) => setTimeout(r, 20))
    // GET /api/token/info authenticates with the token, which is itself a use
    const info = await json(await fetch(`${t.url}/api/token/info`, { headers: { authorization: `Bearer ${token}` } }))
    expect(Date.parse(info.last_used_at)).toBeGreaterThan(first)
    expect(Date.parse((await listed(id)).last_used_at)).toBe(Date.parse(info.last_used_at))
  })

  it('a stored time newer than this replica’s memory wins (a use on another replica)', async () => {
    const { token, id } = await t.mintToken({ name: 'elsewhere' })
    const client = new Anthropic({ apiKey: token, baseURL: t.url, maxRetries: 0 })
    await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
    const later = new Date(Date.now() + 3_600_000)
    await t.gateway.services.warehouse.tokens.recordLastUsed([{ token_id: id, last_used_at: later }])
    expect(Date.parse((await listed(id)).last_used_at)).toBe(later.getTime())
  })
})
