import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { migrate, readMigrations, isMigrated } from '../src/warehouse/migrate.ts'
import { TokenStore, type TokenRow } from '../src/warehouse/tokens.ts'
import { AccountStore, type AccountRow } from '../src/warehouse/accounts.ts'
import { applyRetention } from '../src/warehouse/retention.ts'

// The warehouse's queries, run on both engine paths: the embedded engine directly, and @clickhouse/client
// over the HTTP interface the gateway serves (the same code path as a ClickHouse server).
let engine: EmbeddedEngine
let http: HttpInterface
const opened: ClickHouseClient[] = []

beforeAll(async () => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-warehouse-')))
  http = await startHttpInterface(engine, { port: 0, readonly: false })
})
afterAll(async () => {
  for (const c of opened) await c.close()
  await http.close()
  await engine.close()
})

const paths: Array<[string, (db: string) => ClickHouseClient]> = [
  ['embedded engine', (db) => createEmbeddedClient(engine, { database: db })],
  ['HTTP interface', (db) => createClient({ url: http.url, database: db })],
]

describe.each(paths)('warehouse on the %s', (name, connect) => {
  const db = `wh_${name.split(' ')[0]}`
  const client = () => {
    const c = connect(db)
    opened.push(c)
    return c
  }
  let c: ClickHouseClient

  beforeAll(async () => {
    c = client()
    const bootstrap = connect('default')
    opened.push(bootstrap)
    const applied = await migrate({ client: c, bootstrap, database: db })
    expect(applied).toEqual(readMigrations().map((m) => m.name))
  })

  it('applies each migration once and records it', async () => {
    const again = await migrate({ client: c, bootstrap: connect('default'), database: db })
    expect(again).toEqual([])
    expect(await isMigrated(c)).toBe(true)
    const rs = await c.query({ query: 'SELECT name FROM schema_migrations ORDER BY version', format: 'JSONEachRow' })
    expect((await rs.json<{ name: string }>()).map((r) => r.name)).toEqual(readMigrations().map((m) => m.name))
  })

  it('tokens: saves, reads the newest version, lists newest first, records last use', async () => {
    const store = new TokenStore(c)
    const base: TokenRow = {
      id: `tok-${name}`,
      name: "o'neil \t tab",
      mode: 'api',
      created_at: new Date('2026-11-01T10:00:00.123Z'),
      expires_at: new Date('2026-12-01T10:00:00.000Z'),
      revoked_at: null,
      enable_conversation_logging: false,
    }
    await store.save(base)
    await store.save({ ...base, id: `${base.id}-2`, created_at: new Date('2026-11-02T00:00:00Z') })
    expect(await store.get(base.id)).toEqual(base)
    const revokedAt = new Date('2026-11-03T00:00:00.500Z')
    await store.save({ ...base, revoked_at: revokedAt, enable_conversation_logging: true })
    expect(await store.get(base.id)).toEqual({ ...base, revoked_at: revokedAt, enable_conversation_logging: true })
    expect(await store.get('missing')).toBeUndefined()

    await store.recordLastUsed([{ token_id: base.id, last_used_at: new Date('2026-11-05T00:00:00Z') }])
    await store.recordLastUsed([{ token_id: base.id, last_used_at: new Date('2026-11-06T00:00:00Z') }])
    const list = await store.list()
    expect(list.map((t) => t.id)).toEqual([`${base.id}-2`, base.id])
    expect(list[1]!.last_used_at).toEqual(new Date('2026-11-06T00:00:00Z'))
    expect(list[0]!.last_used_at).toBeNull()
    expect(await store.lastUsed(base.id)).toEqual(new Date('2026-11-06T00:00:00Z'))
    expect(await store.lastUsed(`${base.id}-2`)).toBeNull()
  })

  it('accounts: saves, updates, hides deleted rows', async () => {
    const store = new AccountStore(c)
    const row: AccountRow = {
      id: `acc-${name}`,
      name: 'main',
      type: 'api_key',
      credentials: 'v1.sealed',
      key_hint: 'sk-ant-…abcd',
      priority: -2,
      is_active: true,
      created_at: new Date('2026-11-01T00:00:00Z'),
      updated_at: new Date('2026-11-01T00:00:00Z'),
    }
    await store.save(row)
    await store.save({ ...row, name: 'renamed', is_active: false })
    expect(await store.get(row.id)).toEqual({ ...row, name: 'renamed', is_active: false })
    expect(await store.list()).toHaveLength(1)
    await store.save(row, true)
    expect(await store.get(row.id)).toBeUndefined()
    expect(await store.list()).toEqual([])
  })

  it('binds every value as a parameter: hostile strings are data, not SQL', async () => {
    const store = new TokenStore(c)
    const hostile = "x' OR 1=1 -- \\' ; DROP TABLE tokens"
    expect(await store.get(hostile)).toBeUndefined()
    await store.save({ id: hostile, name: hostile, mode: 'both', created_at: new Date(), expires_at: new Date(Date.now() + 1000), revoked_at: null, enable_conversation_logging: false })
    expect((await store.get(hostile))?.name).toBe(hostile)
  })
})

describe('read-only HTTP interface', () => {
  it('serves the warehouse to SQL readers and refuses writes', async () => {
    const ro = await startHttpInterface(engine, { port: 0, readonly: true })
    try {
      const res = await fetch(`${ro.url}/?query=${encodeURIComponent('SELECT count() FROM wh_embedded.tokens')}`)
      expect(res.status).toBe(200)
      expect(Number((await res.text()).trim())).toBeGreaterThan(0)
      const write = await fetch(`${ro.url}/?query=${encodeURIComponent("INSERT INTO wh_embedded.token_last_used VALUES ('x', now64(3))")}`, { method: 'POST' })
      expect(write.ok).toBe(false)
      expect(write.headers.get('x-clickhouse-exception-code')).toBe('164')
    } finally {
      await ro.close()
    }
  })
})

describe('retention', () => {
  const show = async (c: ClickHouseClient, table: string) => (await (await c.query({ query: `SHOW CREATE TABLE ${table}`, format: 'TabSeparatedRaw' })).text())

  it('deletes nothing by default: no TTL on any table, old rows stay', async () => {
    const c = createEmbeddedClient(engine, { database: 'wh_embedded' })
    opened.push(c)
    for (const table of ['request_logs', 'conversation_contents', 'usage_stats_daily', 'tokens', 'accounts']) {
      expect(await show(c, table)).not.toMatch(/\bTTL\b/)
    }
    const old = { id: '00000000-0000-4000-8000-000000000001', request_at: '2019-01-01 00:00:00.000', response_at: '2019-01-01 00:00:01.000', token_id: 'old' }
    await c.insert({ table: 'request_logs', values: [old], format: 'JSONEachRow' })
    const rs = await c.query({ query: "SELECT count() AS n FROM request_logs WHERE token_id = 'old'", format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ n: '1' }])
  })

  it('with move_after, old parts move to the cold volume (TTL … TO VOLUME), still nothing deleted', async () => {
    const db = 'wh_tiered'
    const c = createEmbeddedClient(engine, { database: db })
    const bootstrap = createEmbeddedClient(engine, { database: 'default' })
    opened.push(c, bootstrap)
    await migrate({ client: c, bootstrap, database: db })
    // the embedded engine's default policy has one volume, named 'default': it stands in for a cold one
    expect(await applyRetention(c, { storage_policy: 'default', move_after: '90d', cold_volume: 'default' })).toBe(true)
    expect(await show(c, 'request_logs')).toMatch(/TTL toDateTime\(request_at\) \+ toIntervalDay\(_CAST\(90, 'UInt32'\)\) TO VOLUME 'default'/)
    expect(await show(c, 'conversation_contents')).toMatch(/TTL toDateTime\(created_at\) \+ toIntervalDay\(.*\) TO VOLUME 'default'/)
    expect(await show(c, 'request_logs')).not.toMatch(/DELETE/)
    expect(await applyRetention(c, { storage_policy: '', move_after: '', cold_volume: 'cold' })).toBe(false)
    await expect(applyRetention(c, { storage_policy: '', move_after: '30d', cold_volume: "x' DELETE" })).rejects.toThrow(/invalid volume name/)
  })
})
