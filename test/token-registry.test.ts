import { afterAll, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import { startTestGateway, type TestGateway } from './support/gateway.ts'

// Authentication is served from memory: a client request does no ClickHouse round trip for a token the
// gateway knows, so slow queries and outages never make clients wait or fail.

const MODEL = 'claude-sonnet-4-5'
const opened: TestGateway[] = []
afterAll(async () => {
  for (const g of opened) await g.close()
})
const ask = (g: TestGateway, token: string) =>
  new Anthropic({ baseURL: g.url, apiKey: token, maxRetries: 0 }).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })

describe('tokens in memory', () => {
  it('a fresh token is served while a slow parameterized query holds the engine', async () => {
    const g = await startTestGateway()
    opened.push(g)
    const { token } = await g.mintToken()
    // The trial's stall: parameterized statements run one at a time in the process (see native.ts), and a
    // token lookup is one. This one takes 3 s.
    const slow = g.gateway.services.warehouse.client.query({
      query: 'SELECT sleepEachRow(1) FROM numbers(3) WHERE {x:UInt8} = 1 SETTINGS max_block_size = 1',
      query_params: { x: 1 },
      format: 'JSONEachRow',
    })
    await new Promise((r) => setTimeout(r, 200))
    const t0 = Date.now()
    expect((await ask(g, token)).type).toBe('message')
    const ms = Date.now() - t0
    await (await slow).json()
    expect(ms).toBeLessThan(1_500)
  })

  it('a token minted, revoked or changed on another replica is seen within token_cache_ttl', async () => {
    // two replicas: one database, one JWT secret
    const shared = { clickhouse: { database: 'shared_tokens' }, auth: { token_cache_ttl: '300ms' }, jwt: { secret: 'a-jwt-secret-both-replicas-share-0123456789' } }
    const a = await startTestGateway(shared)
    const b = await startTestGateway(shared)
    opened.push(a, b)
    const { token, id } = await a.mintToken()
    expect((await ask(b, token)).type).toBe('message') // unknown to b's last refresh: read on its own
    expect((await b.admin('POST', '/api/token/revoke', { id })).status).toBe(200)
    await new Promise((r) => setTimeout(r, 700))
    await expect(ask(a, token)).rejects.toMatchObject({ status: 401 })
  })
})
