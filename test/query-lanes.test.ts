import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { loadConfig } from '../src/config.ts'
import { openWarehouse, type Warehouse } from '../src/warehouse/index.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { AUTH_PARAMS, HTTP_CREDENTIALS } from './support/embedded-http.ts'

// The request path's lookups, the exporter's inserts and the admin API's reads each have a lane of their own:
// a burst of slow admin queries waits its turn (clickhouse.admin_queries.max_concurrent) and runs with few
// threads, while ccproxy's own statements and the inserts go straight through. Both engines.

const ADMIN = { max_concurrent: 1, max_threads: 1, max_execution_time: 7 }
const SLOW = 'SELECT sleep(0.6) AS s'

async function one(client: ClickHouseClient, query: string): Promise<string> {
  const rs = await client.query({ query, format: 'TabSeparated' })
  return (await rs.text()).trim()
}

async function timed<T>(work: Promise<T>): Promise<number> {
  const t0 = performance.now()
  await work
  return performance.now() - t0
}

function laneCases(open: () => Warehouse) {
  let w: Warehouse
  beforeAll(async () => {
    w = open()
    await w.migrate()
  })
  afterAll(async () => w?.close())

  it('admin queries run with clickhouse.admin_queries settings; ccproxy\'s own statements do not', async () => {
    // a statement that runs at all: the embedded engine's constraints did not refuse the lane's settings
    expect(await one(w.analytics, 'SELECT 1')).toBe('1')
    expect(await one(w.analytics, "SELECT getSetting('max_threads')")).toBe('1')
    expect(await one(w.analytics, "SELECT getSetting('max_execution_time')")).toBe('7')
    expect(await one(w.client, "SELECT getSetting('max_execution_time')")).not.toBe('7')
  })

  it('slow admin queries take turns, while token lookups and inserts do not wait behind them', async () => {
    const t0 = performance.now()
    const admin = Promise.all([one(w.analytics, SLOW), one(w.analytics, SLOW), one(w.analytics, SLOW)])
    await new Promise((r) => setTimeout(r, 100))
    const lookup = await timed(w.tokens.all())
    const insert = await timed(w.ingest.command({ query: 'SELECT 1' }))
    await admin
    const adminMs = performance.now() - t0
    // one at a time: three 0.6 s sleeps take at least 1.8 s
    expect(adminMs).toBeGreaterThanOrEqual(1700)
    expect(lookup).toBeLessThan(500)
    expect(insert).toBeLessThan(500)
  })
}

describe('query lanes, embedded engine', () => {
  laneCases(() => openWarehouse(loadConfig({ env: {}, file: '/nonexistent', overrides: { data_dir: mkdtempSync(join(tmpdir(), 'ccproxy-lanes-')), clickhouse: { admin_queries: ADMIN } } })))
})

describe('admin query limits on the embedded engine', () => {
  it('run within the sandbox\'s constraints: a longer max_execution_time than a reader has is cut to the reader\'s', async () => {
    const w = openWarehouse(
      loadConfig({ env: {}, file: '/nonexistent', overrides: { data_dir: mkdtempSync(join(tmpdir(), 'ccproxy-lanes-limits-')), clickhouse: { admin_queries: { max_execution_time: 600 } } } }),
    )
    try {
      await w.migrate()
      expect(await one(w.analytics, "SELECT getSetting('max_execution_time')")).toBe('30')
      // max_threads 0 (the default): half the cores the gateway shares with the engine
      expect(await one(w.analytics, "SELECT getSetting('max_threads')")).toBe(String(Math.max(1, Math.floor(availableParallelism() / 2))))
      expect(await w.stats.tokenTotals(['nobody'])).toBeDefined()
    } finally {
      await w.close()
    }
  })
})

describe('query lanes, ClickHouse server over HTTP', () => {
  let server: Warehouse
  let http: HttpInterface
  beforeAll(async () => {
    server = openWarehouse(loadConfig({ env: {}, file: '/nonexistent', overrides: { data_dir: mkdtempSync(join(tmpdir(), 'ccproxy-lanes-server-')) } }))
    http = await startHttpInterface(server.engine!, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
  })
  afterAll(async () => {
    await http?.close()
    await server?.close()
  })
  laneCases(() =>
    openWarehouse(
      loadConfig({
        env: {},
        file: '/nonexistent',
        overrides: { clickhouse: { url: http.url, username: HTTP_CREDENTIALS.user, password: HTTP_CREDENTIALS.password, admin_queries: ADMIN } },
      }),
    ),
  )
})

describe('the embedded HTTP interface takes turns', () => {
  let server: Warehouse
  let http: HttpInterface
  beforeAll(async () => {
    server = openWarehouse(loadConfig({ env: {}, file: '/nonexistent', overrides: { data_dir: mkdtempSync(join(tmpdir(), 'ccproxy-lanes-http-')) } }))
    http = await startHttpInterface(server.engine!, { port: 0, readonly: true, ...HTTP_CREDENTIALS, maxConcurrent: 1, queueWaitMs: 300 })
  })
  afterAll(async () => {
    await http?.close()
    await server?.close()
  })
  const query = (sql: string) => fetch(`${http.url}/?${AUTH_PARAMS}&query=${encodeURIComponent(sql)}`)

  it('a statement that finds every turn taken waits, then is refused with TOO_MANY_SIMULTANEOUS_QUERIES (503)', async () => {
    const slow = query('SELECT sleep(1)')
    await new Promise((r) => setTimeout(r, 100))
    const t0 = performance.now()
    const refused = await query('SELECT 1')
    const waited = performance.now() - t0
    expect(refused.status).toBe(503)
    expect(refused.headers.get('x-clickhouse-exception-code')).toBe('202')
    expect(await refused.text()).toMatch(/Too many simultaneous queries: 1 are running.*http_max_concurrent/)
    expect(waited).toBeGreaterThanOrEqual(250)
    expect((await slow).status).toBe(200)
    // the turn is given back
    const after = await query('SELECT 42')
    expect(after.status).toBe(200)
    expect((await after.text()).trim()).toBe('42')
  })

  it('a statement that waits less than queueWaitMs for its turn runs', async () => {
    const first = query('SELECT sleep(0.1)')
    const second = query('SELECT 7')
    expect((await first).status).toBe(200)
    const r = await second
    expect(r.status).toBe(200)
    expect((await r.text()).trim()).toBe('7')
  })
})

describe('admin query threads with a ClickHouse server', () => {
  it('max_threads 0 (the default) leaves the server its own default: its cores are not the gateway\'s', async () => {
    const server = openWarehouse(loadConfig({ env: {}, file: '/nonexistent', overrides: { data_dir: mkdtempSync(join(tmpdir(), 'ccproxy-lanes-threads-')) } }))
    const http = await startHttpInterface(server.engine!, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
    const w = openWarehouse(loadConfig({ env: {}, file: '/nonexistent', overrides: { clickhouse: { url: http.url, username: HTTP_CREDENTIALS.user, password: HTTP_CREDENTIALS.password } } }))
    try {
      await w.migrate()
      expect(await one(w.analytics, "SELECT getSetting('max_threads')")).toBe(await one(w.client, "SELECT getSetting('max_threads')"))
    } finally {
      await w.close()
      await http.close()
      await server.close()
    }
  })
})
