import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { createClient } from '@clickhouse/client'
import { openEmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { startHttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { CLIENT_AUTH, HTTP_CREDENTIALS } from './support/embedded-http.ts'
import { startTestGateway, eventually, json } from './support/gateway.ts'

const MODEL = 'claude-sonnet-4-6'

// One embedded engine per process: this file's engine stands in for a ClickHouse server, started late.
describe('a gateway started while its ClickHouse server is unreachable', () => {
  const engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-late-')))
  afterAll(() => engine.close())
  /** a port where nothing listens yet */
  const freePort = async () => {
    const probe = await startHttpInterface(engine, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
    await probe.close()
    return probe.port
  }

  it('keeps running, not ready, refuses in each dialect, and serves once ClickHouse answers', async () => {
    const port = await freePort()
    const t = await startTestGateway({ clickhouse: { url: `http://127.0.0.1:${port}`, database: 'late', ...CLIENT_AUTH } })
    let server: Awaited<ReturnType<typeof startHttpInterface>> | undefined
    try {
      expect((await fetch(`${t.url}/health`)).status).toBe(200)
      const notReady = await fetch(`${t.url}/ready`)
      expect(notReady.status).toBe(503)
      expect(await json(notReady)).toEqual({ status: 'not ready', clickhouse: 'server', reason: 'ClickHouse is not reachable yet' })

      // no token can be checked yet: a 503 in the route's own dialect
      const anthropic = new Anthropic({ baseURL: t.url, apiKey: 'any-token', maxRetries: 0 })
      const refused = await anthropic.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)
      expect(refused).toBeInstanceOf(Anthropic.APIError)
      expect(refused.status).toBe(503)
      expect(refused.error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('ccproxy is starting') } })
      const openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'any-token', maxRetries: 0 })
      const refusedOpenAI = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)
      expect(refusedOpenAI).toBeInstanceOf(OpenAI.APIError)
      expect(refusedOpenAI.status).toBe(503)
      expect(refusedOpenAI.error).toMatchObject({ type: 'api_error', message: expect.stringContaining('ClickHouse is not reachable yet') })
      const mint = await t.admin('POST', '/api/token/generate', { name: 'early' })
      expect(mint.status).toBe(503)
      expect(mint.body).toEqual({ error: 'ccproxy is starting and cannot serve yet: ClickHouse is not reachable yet; try again shortly' })
      expect(mint.headers.get('retry-after')).toBe('5')
      expect(t.upstream.requests).toHaveLength(0)

      server = await startHttpInterface(engine, { port, readonly: false, ...HTTP_CREDENTIALS }) // ClickHouse answers now
      await eventually(async () => expect((await fetch(`${t.url}/ready`)).status).toBe(200), 8000)

      const { token, id } = await t.mintToken()
      const answer = await new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 }).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      expect(answer.type).toBe('message')
      const rows = await t.rows<{ status_code: number }>('SELECT status_code FROM request_logs WHERE token_id = {id:String}', { id })
      expect(rows).toEqual([{ status_code: 200 }])
      // the two requests refused while it was starting are recorded too, without a token
      const refusedRows = await t.rows<{ status_code: number; endpoint: string; token_id: string }>(
        "SELECT status_code, endpoint, token_id FROM request_logs WHERE token_id != {id:String} ORDER BY endpoint",
        { id },
      )
      expect(refusedRows).toEqual([
        { status_code: 503, endpoint: 'chat.completions', token_id: '' },
        { status_code: 503, endpoint: 'messages', token_id: '' },
      ])
    } finally {
      await t.close()
      await server?.close()
    }
  }, 30_000)

  it('a shutdown while it waits stops the retries', async () => {
    const port = await freePort()
    const t = await startTestGateway({ clickhouse: { url: `http://127.0.0.1:${port}`, database: 'never', ...CLIENT_AUTH } })
    const server = await (async () => {
      const started = performance.now()
      await t.close()
      expect(performance.now() - started).toBeLessThan(2000)
      return startHttpInterface(engine, { port, readonly: false, ...HTTP_CREDENTIALS })
    })()
    const reader = createClient({ url: server.url, ...CLIENT_AUTH })
    try {
      // a gateway still retrying would have migrated by now (its first retries come 0.25 s, 0.75 s, 1.75 s in)
      await new Promise((r) => setTimeout(r, 2500))
      const rs = await reader.query({ query: "SELECT count() AS n FROM system.databases WHERE name = 'never'", format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([{ n: '0' }])
    } finally {
      await reader.close()
      await server.close()
    }
  }, 30_000)
})
