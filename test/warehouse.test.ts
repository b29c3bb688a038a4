import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { migrate, readMigrations, isMigrated } from '../src/warehouse/migrate.ts'
import { TokenStore, type NewToken } from '../src/warehouse/tokens.ts'
import { AccountStore, type NewAccount } from '../src/warehouse/accounts.ts'
import { applyRetention } from '../src/warehouse/retention.ts'

// The warehouse's queries, run on both engine paths: the embedded engine directly, and @clickhouse/client
// over the HTTP interface the gateway serves (the same code path as a ClickHouse server).
let engine: EmbeddedEngine
let http: HttpInterface
const READER = { user: 'ccproxy', password: 'warehouse-test-password' }
const opened: ClickHouseClient[] = []

beforeAll(async () => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-warehouse-')))
  http = await startHttpInterface(engine, { port: 0, readonly: false, ...READER })
})
afterAll(async () => {
  for (const c of opened) await c.close()
  await http.close()
  await engine.close()
})

const paths: Array<[string, (db: string) => ClickHouseClient]> = [
  ['embedded engine', (db) => createEmbeddedClient(engine, { database: db })],
  ['HTTP interface', (db) => createClient({ url: http.url, database: db, username: READER.user, password: READER.password })],
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
    const base: NewToken = {
      id: `tok-${name}`,
      name: "o'neil \t tab",
      mode: 'api',
      created_at: new Date('2026-11-01T10:00:00.123Z'),
      expires_at: new Date('2026-12-01T10:00:00.000Z'),
      enable_conversation_logging: false,
    }
    await store.save(base)
    await store.save({ ...base, id: `${base.id}-2`, created_at: new Date('2026-11-02T00:00:00Z') })
    expect(await store.get(base.id)).toEqual({ ...base, revoked_at: null })
    expect(await store.setConversationLogging(base.id, true)).toEqual({ ...base, revoked_at: null, enable_conversation_logging: true })
    expect(await store.get(base.id)).toEqual({ ...base, revoked_at: null, enable_conversation_logging: true })
    expect(await store.get('missing')).toBeUndefined()
    expect(await store.setConversationLogging('missing', true)).toBeUndefined()

    await store.recordLastUsed([{ token_id: base.id, last_used_at: new Date('2026-11-05T00:00:00Z') }])
    await store.recordLastUsed([{ token_id: base.id, last_used_at: new Date('2026-11-06T00:00:00Z') }])
    const list = await store.list()
    expect(list.map((t) => t.id)).toEqual([`${base.id}-2`, base.id])
    expect(list[1]!.last_used_at).toEqual(new Date('2026-11-06T00:00:00Z'))
    expect(list[0]!.last_used_at).toBeNull()
    expect(await store.lastUsed(base.id)).toEqual(new Date('2026-11-06T00:00:00Z'))
    expect(await store.lastUsed(`${base.id}-2`)).toBeNull()
  })

  it('tokens: a revocation is kept whatever is written after it; the earliest one counts', async () => {
    let now = Date.parse('2026-11-03T00:00:00.500Z')
    const store = new TokenStore(c, () => now)
    const id = `tok-revoked-${name}`
    await store.save({ id, name: 'r', mode: 'both', created_at: new Date(now), expires_at: new Date(now + 86_400_000), enable_conversation_logging: false })
    expect(await store.revoke(id)).toEqual(new Date(now))
    now += 60_000
    await store.revoke(id)
    await store.setConversationLogging(id, true)
    // a replica whose clock is an hour behind rewrites the settings row: the revocation stays
    await new TokenStore(c, () => now - 3_600_000).setConversationLogging(id, false)
    const expected = { revoked_at: new Date('2026-11-03T00:00:00.500Z'), enable_conversation_logging: false }
    expect(await store.get(id)).toMatchObject(expected)
    expect((await store.list()).find((t) => t.id === id)).toMatchObject(expected)
  })

  it('tokens: a change is versioned above the row it read, whatever the clock says', async () => {
    const ahead = new TokenStore(c, () => Date.now() + 10 * 3_600_000)
    const behind = new TokenStore(c, () => Date.now() - 10 * 3_600_000)
    const id = `tok-clocks-${name}`
    await ahead.save({ id, name: 'c', mode: 'both', created_at: new Date(), expires_at: new Date(Date.now() + 86_400_000), enable_conversation_logging: true })
    for (const [store, on] of [[behind, false], [ahead, true], [behind, false], [behind, true], [ahead, false]] as const) {
      await store.setConversationLogging(id, on)
      expect((await behind.get(id))?.enable_conversation_logging).toBe(on)
    }
  })

  it('accounts: adds, changes each part on its own, hides deleted ones for good', async () => {
    let now = Date.parse('2026-11-01T00:00:00Z')
    const store = new AccountStore(c, () => now)
    const row: NewAccount = {
      id: `acc-${name}`,
      name: 'main',
      type: 'api_key',
      credentials: 'v1.sealed',
      key_hint: 'sk-ant-…abcd',
      priority: -2,
      is_active: true,
    }
    await store.add(row)
    const created = new Date(now)
    expect(await store.get(row.id)).toEqual({ ...row, created_at: created, updated_at: created })
    now += 1000
    expect(await store.update(row.id, { name: 'renamed', is_active: false })).toBe(true)
    now += 1000
    expect(await store.update(row.id, { key: { credentials: 'v1.other', key_hint: 'sk-ant-…efgh' } })).toBe(true)
    // each change wrote only its own part: the rename did not carry the old status, the key change not the old name
    expect(await store.get(row.id)).toEqual({ ...row, name: 'renamed', is_active: false, credentials: 'v1.other', key_hint: 'sk-ant-…efgh', created_at: created, updated_at: new Date(now) })
    expect(await store.list()).toHaveLength(1)
    expect(await store.update('missing', { name: 'x' })).toBe(false)

    expect(await store.remove(row.id)).toBe(true)
    expect(await store.get(row.id)).toBeUndefined()
    expect(await store.list()).toEqual([])
    expect(await store.remove(row.id)).toBe(false)
    expect(await store.update(row.id, { name: 'back again' })).toBe(false)
    // the sealed key is wiped too, and no later rewrite of the accounts row brings the account back
    const key = await c.query({ query: 'SELECT credentials FROM account_credentials FINAL WHERE id = {id:String}', query_params: { id: row.id }, format: 'JSONEachRow' })
    expect(await key.json()).toEqual([{ credentials: '' }])
    await c.insert({ table: 'accounts', format: 'JSONEachRow', values: [{ id: row.id, name: 'zombie', type: 'api_key', created_at: '2026-11-01 00:00:00.000', updated_at: '2030-01-01 00:00:00.000', version: 9e15 }] })
    expect(await store.get(row.id)).toBeUndefined()
  })

  it('keeps no secret in accounts: the sealed key lives in account_credentials alone', async () => {
    const columns = async (table: string) =>
      (await (await c.query({ query: 'SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}', query_params: { t: table }, format: 'JSONEachRow' })).json<{ name: string }>()).map((r) => r.name)
    expect(await columns('accounts')).not.toContain('credentials')
    expect(await columns('account_credentials')).toEqual(['id', 'credentials', 'key_hint', 'updated_at', 'version'])
    expect(await columns('tokens')).not.toContain('revoked_at')
  })

  it('binds every value as a parameter: hostile strings are data, not SQL', async () => {
    const store = new TokenStore(c)
    const hostile = "x' OR 1=1 -- \\' ; DROP TABLE tokens"
    expect(await store.get(hostile)).toBeUndefined()
    await store.save({ id: hostile, name: hostile, mode: 'both', created_at: new Date(), expires_at: new Date(Date.now() + 1000), enable_conversation_logging: false })
    expect((await store.get(hostile))?.name).toBe(hostile)
    await store.revoke(hostile)
    expect((await store.get(hostile))?.revoked_at).toBeInstanceOf(Date)
  })
})

describe.each(paths)('a database migrated by the old code, upgraded on the %s', (name, connect) => {
  it('keeps every token, revocation and account, and moves the sealed keys out of accounts', async () => {
    const db = `wh_upgrade_${name.split(' ')[0]}`
    const c = connect(db)
    const bootstrap = connect('default')
    opened.push(c, bootstrap)
    const all = readMigrations()
    const old = all.filter((m) => m.version <= 4)
    await migrate({ client: c, bootstrap, database: db, migrations: old })

    // rows as the old code wrote them: whole rows, newest version wins, revocation and deletion inside the row
    const t = (iso: string) => iso.replace('T', ' ').replace('Z', '')
    const token = (id: string, version: number, revoked_at: string | null, logging: boolean) => ({
      id, name: id, mode: 'api', created_at: t('2026-01-01T00:00:00.000Z'), expires_at: t('2027-01-01T00:00:00.000Z'), revoked_at, enable_conversation_logging: logging, version,
    })
    await c.insert({
      table: 'tokens',
      format: 'JSONEachRow',
      values: [
        token('revoked', 1, null, false),
        token('revoked', 2, t('2026-02-01T10:00:00.250Z'), true),
        token('live', 1, null, false),
        token('live', 3, null, true),
      ],
    })
    const account = (id: string, version: number, over: Record<string, unknown> = {}) => ({
      id, name: id, type: 'api_key', credentials: `v1.sealed-${id}-${version}`, key_hint: `sk-ant-…${id.slice(-4)}`, priority: 1, is_active: true,
      created_at: t('2026-01-01T00:00:00.000Z'), updated_at: t(`2026-01-0${version}T00:00:00.000Z`), version, is_deleted: 0, ...over,
    })
    await c.insert({
      table: 'accounts',
      format: 'JSONEachRow',
      values: [
        account('acc-main', 1),
        account('acc-main', 2, { name: 'main renamed', priority: -3 }),
        account('acc-idle', 1),
        account('acc-idle', 2, { is_active: false }),
        account('acc-gone', 1),
        account('acc-gone', 3, { is_deleted: 1 }),
      ],
    })

    const m5 = all.find((m) => m.version === 5)!
    await migrate({ client: c, bootstrap, database: db, migrations: [m5] })
    // interrupted before it was recorded: the same statements run again, and copy nothing twice
    for (const statement of m5.statements) await c.command({ query: statement })
    expect(await migrate({ client: c, bootstrap, database: db })).toEqual(all.filter((m) => m.version > 5).map((m) => m.name))
    expect(await isMigrated(c)).toBe(true)

    const tokens = new TokenStore(c)
    expect(await tokens.get('revoked')).toMatchObject({ revoked_at: new Date('2026-02-01T10:00:00.250Z'), enable_conversation_logging: true })
    expect(await tokens.get('live')).toMatchObject({ revoked_at: null, enable_conversation_logging: true })
    // the settings row is rewritten over the old versions; the revocation stays
    await tokens.setConversationLogging('revoked', false)
    expect(await tokens.get('revoked')).toMatchObject({ revoked_at: new Date('2026-02-01T10:00:00.250Z'), enable_conversation_logging: false })

    const accounts = new AccountStore(c)
    // listed by created_at, the same for both here
    expect((await accounts.list()).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      {
        id: 'acc-idle', name: 'acc-idle', type: 'api_key', credentials: 'v1.sealed-acc-idle-2', key_hint: 'sk-ant-…idle', priority: 1, is_active: false,
        created_at: new Date('2026-01-01T00:00:00Z'), updated_at: new Date('2026-01-02T00:00:00Z'),
      },
      {
        id: 'acc-main', name: 'main renamed', type: 'api_key', credentials: 'v1.sealed-acc-main-2', key_hint: 'sk-ant-…main', priority: -3, is_active: true,
        created_at: new Date('2026-01-01T00:00:00Z'), updated_at: new Date('2026-01-02T00:00:00Z'),
      },
    ])
    expect(await accounts.update('acc-idle', { is_active: true })).toBe(true)
    expect((await accounts.get('acc-idle'))?.is_active).toBe(true)

    const count = async (sql: string) => Number((await (await c.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n)
    expect(await count('SELECT count() AS n FROM token_revocations')).toBe(1)
    expect(await count("SELECT count() AS n FROM account_deletions WHERE account_id = 'acc-gone'")).toBe(1)
    expect(await count("SELECT count() AS n FROM account_credentials WHERE id = 'acc-gone'")).toBe(0)
    expect(await count('SELECT count() AS n FROM account_credentials')).toBe(2)
    expect(await count("SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = 'accounts' AND name IN ('credentials', 'key_hint', 'is_active')")).toBe(0)
  })
})

describe('read-only HTTP interface', () => {
  it('serves the warehouse to SQL readers and refuses writes', async () => {
    const ro = await startHttpInterface(engine, { port: 0, readonly: true, ...READER })
    const headers = { 'x-clickhouse-user': READER.user, 'x-clickhouse-key': READER.password }
    try {
      const res = await fetch(`${ro.url}/?query=${encodeURIComponent('SELECT count() FROM wh_embedded.tokens')}`, { headers })
      expect(res.status).toBe(200)
      expect(Number((await res.text()).trim())).toBeGreaterThan(0)
      const write = await fetch(`${ro.url}/?query=${encodeURIComponent("INSERT INTO wh_embedded.token_last_used VALUES ('x', now64(3))")}`, { method: 'POST', headers })
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
