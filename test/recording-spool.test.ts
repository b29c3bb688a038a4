import { describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Anthropic from '@anthropic-ai/sdk'
import { createClient } from '@clickhouse/client'
import { openEmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { startHttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { startTestGateway, eventually } from './support/gateway.ts'
import { CLIENT_AUTH, HTTP_CREDENTIALS } from './support/embedded-http.ts'

const MODEL = 'claude-sonnet-4-6'

// One embedded engine per process: this file's engine stands in for a ClickHouse server.
describe('nothing is lost', () => {
  it('ClickHouse going away: records spool to disk and replay when it is back, none lost, none doubled', async () => {
    const engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-server-')))
    let http = await startHttpInterface(engine, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
    const port = http.port
    const t = await startTestGateway({
      clickhouse: { url: http.url, database: 'durable', ...CLIENT_AUTH },
      auth: { token_cache_ttl: '10m' },
      logging: { flush_interval: '50ms', batch_size: 10 },
    })
    const reader = createClient({ url: `http://127.0.0.1:${port}`, database: 'durable', ...CLIENT_AUTH })
    const count = async (query: string) => Number(((await (await reader.query({ query, format: 'JSONEachRow' })).json()) as any[])[0].n)
    try {
      const { token, id } = await t.mintToken()
      const client = new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
      const ask = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: `q${i}` }] })))

      await ask(20)
      await eventually(async () => expect(await count('SELECT count() AS n FROM request_logs')).toBe(20), 5000)

      await http.close() // ClickHouse is gone; clients keep being served
      await ask(30)
      await eventually(() => expect(t.records.length).toBe(50))
      await t.gateway.exporter.forceFlush()
      expect(t.gateway.exporter.stats().rowsSpooled).toBe(30)

      http = await startHttpInterface(engine, { port, readonly: false, ...HTTP_CREDENTIALS }) // it is back
      await eventually(async () => expect(await count('SELECT count() AS n FROM request_logs')).toBe(50), 15_000)
      expect(await count(`SELECT sum(request_count) AS n FROM usage_stats_daily WHERE token_id = '${id}'`)).toBe(50)
      expect(await count('SELECT uniqExact(id) AS n FROM request_logs')).toBe(50)
      expect(t.gateway.exporter.stats()).toMatchObject({ rowsReplayed: 30, rowsDropped: 0 })
    } finally {
      await t.close()
      await reader.close()
      await http.close()
      await engine.close()
    }
  }, 60_000)
})
