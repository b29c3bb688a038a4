import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../src/config.ts'
import { startGateway, type RunningGateway } from '../../src/server.ts'
import type { Exchange } from '../../src/record/exchange.ts'
import type { RequestRecord } from '../../src/record/request-record.ts'
import { startMockAnthropic, type MockAnthropic } from './mock-anthropic.ts'

export const ADMIN_KEY = 'test-admin-key-0123456789'
export const UPSTREAM_KEYS = ['sk-ant-api03-test-key-one-000000', 'sk-ant-api03-test-key-two-000000']

export interface TestGateway {
  gateway: RunningGateway
  upstream: MockAnthropic
  url: string
  exchanges: Exchange[]
  /** the record of every finished exchange, as handed to the exporter */
  records: RequestRecord[]
  /** flushes the exporter, then runs a query on the gateway's warehouse */
  rows<T = any>(query: string, params?: Record<string, unknown>): Promise<T[]>
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>
  mintToken(opts?: { name?: string; mode?: 'web' | 'api' | 'both'; expires_in?: string }): Promise<{ token: string; id: string }>
  close(): Promise<void>
}

// chdb opens one data directory per process: gateways started by one test file share the engine's
// directory, each with a database of its own (and a data directory of its own for secrets and spool).
let enginePath: string | undefined
let gateways = 0

/** A gateway on a fresh embedded warehouse database, in front of the mock Anthropic API. */
export async function startTestGateway(overrides: Record<string, any> = {}, env: Record<string, string> = {}): Promise<TestGateway> {
  const upstream = await startMockAnthropic()
  enginePath ??= mkdtempSync(join(tmpdir(), 'ccproxy-engine-'))
  const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-test-'))
  const config: Config = loadConfig({
    file: 'config.yaml',
    env,
    overrides: {
      data_dir: dataDir,
      // a test's own server settings keep the free port unless they name one
      server: { host: '127.0.0.1', port: 0, ...overrides.server },
      admin: { key: ADMIN_KEY },
      claude: { api_url: upstream.url, api_keys: UPSTREAM_KEYS, ...overrides.claude },
      clickhouse: { database: `ccproxy_test_${++gateways}`, embedded: { path: enginePath, http_port: 0, http_readonly: true }, ...overrides.clickhouse },
      ...Object.fromEntries(Object.entries(overrides).filter(([k]) => k !== 'claude' && k !== 'clickhouse' && k !== 'server')),
    },
  })
  const exchanges: Exchange[] = []
  const records: RequestRecord[] = []
  const gateway = await startGateway(config, {
    onExchange: (e, r) => {
      exchanges.push(e)
      records.push(r)
    },
  })
  const admin: TestGateway['admin'] = async (method, path, body) => {
    const res = await fetch(gateway.url + path, {
      method,
      headers: { 'x-admin-key': ADMIN_KEY, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
  }
  return {
    gateway,
    upstream,
    url: gateway.url,
    exchanges,
    records,
    async rows(query, params = {}) {
      await gateway.exporter.forceFlush()
      const rs = await gateway.services.warehouse.client.query({ query, query_params: params, format: 'JSONEachRow' })
      return rs.json()
    },
    admin,
    async mintToken(opts = {}) {
      const res = await admin('POST', '/api/token/generate', { name: opts.name ?? 'tester', ...opts })
      if (res.status !== 200) throw new Error(`mint failed: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body
    },
    async close() {
      await gateway.close()
      await upstream.close()
    },
  }
}

/** Waits until `check` passes or the time is up (for effects that land after the response). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await check()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

/** A fetch Response's JSON body, untyped (tests assert on its shape). */
export const json = (res: Response): Promise<any> => res.json()
