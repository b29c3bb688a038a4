import { describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Anthropic from '@anthropic-ai/sdk'
import { openEmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { startHttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { CLIENT_AUTH, HTTP_CREDENTIALS } from './support/embedded-http.ts'
import { startTestGateway } from './support/gateway.ts'

// One embedded engine per process: this file's engine stands in for a ClickHouse server.
const ask = (url: string, token: string) =>
  new Anthropic({ baseURL: url, apiKey: token, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })

describe('a ClickHouse server outage', () => {
  it('when ClickHouse is away, the tokens already known keep working', async () => {
    const engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-outage-')))
    let server = await startHttpInterface(engine, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
    const g = await startTestGateway({ clickhouse: { url: server.url, database: 'outage', ...CLIENT_AUTH }, auth: { token_cache_ttl: '200ms' } })
    try {
      const { token } = await g.mintToken()
      expect((await ask(g.url, token)).type).toBe('message')
      await server.close() // ClickHouse is gone
      await new Promise((r) => setTimeout(r, 800)) // several refreshes fail meanwhile
      for (let i = 0; i < 5; i++) expect((await ask(g.url, token)).type).toBe('message')
      server = await startHttpInterface(engine, { port: server.port, readonly: false, ...HTTP_CREDENTIALS })
    } finally {
      await g.close()
      await server.close()
      await engine.close()
    }
  })
})
