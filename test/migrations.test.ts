import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { migrate, readMigrations, isMigrated, MigrationChangedError, type Migration } from '../src/warehouse/migrate.ts'
import { lockState, withMigrationLock, type LockRow } from '../src/warehouse/migration-lock.ts'
import { applyRetention, readTiering } from '../src/warehouse/retention.ts'
import { HTTP_CREDENTIALS, CLIENT_AUTH } from './support/embedded-http.ts'

let engine: EmbeddedEngine
let http: HttpInterface
const opened: ClickHouseClient[] = []

beforeAll(async () => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-migrations-')))
  http = await startHttpInterface(engine, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
})
afterAll(async () => {
  for (const c of opened) await c.close()
  await http.close()
  await engine.close()
})

// over HTTP, the client's own error log would print every statement a test makes fail
const overHttp = (database: string) => createClient({ url: http.url, database, ...CLIENT_AUTH, log: { level: ClickHouseLogLevel.OFF } })
const paths: Array<[string, (db: string) => ClickHouseClient]> = [
  ['embedded engine', (db) => createEmbeddedClient(engine, { database: db })],
  ['HTTP interface', overHttp],
]

let dbs = 0
const fresh = (connect: (db: string) => ClickHouseClient) => {
  const database = `mig_${++dbs}`
  const client = connect(database)
  const bootstrap = connect('default')
  opened.push(client, bootstrap)
  return { client, bootstrap, database }
}

const rows = async <T>(c: ClickHouseClient, query: string) => (await c.query({ query, format: 'JSONEachRow' })).json<T>()
const ledger = (c: ClickHouseClient) => rows<{ version: number; checksum: string; note: string }>(c, 'SELECT version, checksum, note FROM schema_migrations ORDER BY version, applied_at')

describe('the migration lock state', () => {
  const row = (over: Partial<LockRow>): LockRow => ({ generation: 1, owner: 'a', kind: 'claim', at: 1000, lease_ms: 500, ...over })
  it.each<[string, LockRow[], number, ReturnType<typeof lockState>]>([
    ['never claimed', [], 5000, { generation: 0 }],
    ['claimed, within its lease', [row({})], 1400, { generation: 1, holder: { owner: 'a', expiresAt: 1500 } }],
    ['claimed, lease run out', [row({})], 1500, { generation: 1 }],
    ['renewed', [row({}), row({ kind: 'renew', at: 1400 })], 1600, { generation: 1, holder: { owner: 'a', expiresAt: 1900 } }],
    ['released', [row({}), row({ kind: 'release', lease_ms: 0, at: 1100 })], 1200, { generation: 1 }],
    // only the holder's rows count: a loser's renewal or release changes nothing
    ['another owner renews or releases', [row({}), row({ owner: 'b', kind: 'renew', at: 1400 }), row({ owner: 'b', kind: 'release' })], 1450, { generation: 1, holder: { owner: 'a', expiresAt: 1500 } }],
    ['the newest generation decides', [row({ owner: 'old' }), row({ generation: 2, owner: 'new', at: 2000 })], 2100, { generation: 2, holder: { owner: 'new', expiresAt: 2500 } }],
  ])('%s', (_, lockRows, now, expected) => {
    expect(lockState(lockRows, now)).toEqual(expected)
  })
})

describe.each(paths)('migrations on the %s', (_name, connect) => {
  it('stops on a migration changed since it was applied, naming it and what to do, before running anything', async () => {
    const { client, bootstrap, database } = fresh(connect)
    const all = readMigrations()
    await migrate({ client, bootstrap, database, migrations: all.slice(0, 3) })
    const changed = all.map((m) => (m.version === 2 ? { ...m, checksum: 'f00df00df00df00d' } : m))
    const err = await migrate({ client, bootstrap, database, migrations: changed }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MigrationChangedError)
    const recorded = all[1]!.checksum
    expect((err as Error).message).toBe(
      `migration 0002_request_logs has changed since it was applied (checksum ${recorded} then, f00df00df00df00d now): restore clickhouse/0002_request_logs.sql as it was and put schema changes in a new numbered migration`,
    )
    expect((await ledger(client)).map((r) => r.version)).toEqual([1, 2, 3])
    // the unchanged files migrate on
    expect(await migrate({ client, bootstrap, database })).toEqual(all.slice(3).map((m) => m.name))
  })

  it('records the checksum of a migration an earlier version applied without one, once, and says so', async () => {
    const { client, bootstrap, database } = fresh(connect)
    await migrate({ client, bootstrap, database })
    // as an earlier version (or an operator accepting a changed file) left the ledger: no checksum
    await client.command({ query: "ALTER TABLE schema_migrations UPDATE checksum = '' WHERE version IN (1, 4)", clickhouse_settings: { mutations_sync: '1' } })
    const log: string[] = []
    expect(await migrate({ client, bootstrap, database, log: (m) => log.push(m) })).toEqual([])
    const [m1, m4] = [readMigrations()[0]!, readMigrations()[3]!]
    expect(log).toEqual([
      `migration 0001_tokens_accounts was recorded without a checksum: recorded ${m1.checksum}`,
      `migration 0004_trace_ids was recorded without a checksum: recorded ${m4.checksum}`,
    ])
    const again: string[] = []
    expect(await migrate({ client, bootstrap, database, log: (m) => again.push(m) })).toEqual([])
    expect(again).toEqual([])
    // and from now on a change to it is caught
    const changed = readMigrations().map((m) => (m.version === 1 ? { ...m, checksum: 'changed' } : m))
    await expect(migrate({ client, bootstrap, database, migrations: changed })).rejects.toThrow(/migration 0001_tokens_accounts has changed/)
  })

  it('never records a migration that failed half-way; the next start runs it again from its first statement', async () => {
    const { client, bootstrap, database } = fresh(connect)
    const base = readMigrations()
    await migrate({ client, bootstrap, database, migrations: base })
    const step = (version: number, optional: boolean): Migration => ({
      version,
      name: `${version}_two_steps`,
      checksum: `c${version}`,
      optional,
      statements: [
        `CREATE TABLE IF NOT EXISTS copy_${version} (x UInt8) ENGINE = MergeTree ORDER BY x`,
        // fails while the source is missing (a transient failure: the server restarting, a timeout)
        `INSERT INTO copy_${version} SELECT x FROM source_${version} WHERE x NOT IN (SELECT x FROM copy_${version})`,
      ],
    })
    // an optional one too: a failure after its first statement ran is a failure, not a "skip"
    for (const m of [step(100, false), step(101, true)]) {
      await expect(migrate({ client, bootstrap, database, migrations: [...base, m] })).rejects.toThrow(`migration ${m.name} failed`)
      expect((await ledger(client)).map((r) => r.version)).not.toContain(m.version)
      await client.command({ query: `CREATE TABLE source_${m.version} ENGINE = MergeTree ORDER BY x AS SELECT toUInt8(7) AS x` })
      expect(await migrate({ client, bootstrap, database, migrations: [...base, m] })).toEqual([m.name])
      expect(await rows(client, `SELECT x FROM copy_${m.version}`)).toEqual([{ x: 7 }])
      expect((await ledger(client)).filter((r) => r.version === m.version)).toEqual([{ version: m.version, checksum: m.checksum, note: '' }])
    }
  })

  it('every migration can run again after an interruption: each statement is idempotent', async () => {
    const { client, bootstrap, database } = fresh(connect)
    await bootstrap.command({ query: `CREATE DATABASE ${database}` })
    const all = readMigrations()
    for (const [i, m] of all.entries()) {
      // each statement ran twice, and then the process stopped before recording it: the next start runs it again
      for (const s of [...m.statements, ...m.statements]) await client.command({ query: s })
      expect(await migrate({ client, bootstrap, database, migrations: all.slice(0, i + 1) })).toEqual([m.name])
    }
    expect(await isMigrated(client)).toBe(true)
  })

  it('waits while another migrator holds the lock, and takes over a lock whose holder died', async () => {
    const { client, bootstrap, database } = fresh(connect)
    await bootstrap.command({ query: `CREATE DATABASE ${database}` })
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let holding!: () => void
    const acquired = new Promise<void>((resolve) => (holding = resolve))
    const other = withMigrationLock(client, async () => {
      holding()
      await held
    }, { owner: 'other-migrator' })
    await acquired
    const log: string[] = []
    const mine = migrate({ client, bootstrap, database, log: (m) => log.push(m), lock: { pollMs: 50 } })
    await new Promise((r) => setTimeout(r, 600))
    expect(log).toEqual(['waiting for other-migrator, which is migrating this database'])
    expect(await rows(client, 'SELECT version FROM schema_migrations')).toEqual([])
    release()
    await other
    expect(await mine).toEqual(readMigrations().map((m) => m.name))

    // a holder that died without releasing: its lease runs out and the next migrator goes ahead
    const { client: c2, bootstrap: b2, database: db2 } = fresh(connect)
    await b2.command({ query: `CREATE DATABASE ${db2}` })
    await withMigrationLock(c2, async () => {}, {}) // creates the table
    await c2.insert({ table: 'schema_migrations_lock', format: 'JSONEachRow', values: [{ generation: 9, owner: 'crashed', kind: 'claim', lease_ms: 300 }] })
    const started = Date.now()
    expect(await migrate({ client: c2, bootstrap: b2, database: db2, lock: { pollMs: 50 } })).toHaveLength(readMigrations().length)
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
  })

  it('a holder whose lease another migrator took over stops at its next step', async () => {
    const { client, bootstrap, database } = fresh(connect)
    await bootstrap.command({ query: `CREATE DATABASE ${database}` })
    await withMigrationLock(
      client,
      async (lease) => {
        lease.assertHeld()
        // what another migrator writes once this one's lease ran out (this process stalled)
        await client.insert({ table: 'schema_migrations_lock', format: 'JSONEachRow', values: [{ generation: lease.generation + 1, owner: 'usurper', kind: 'claim', lease_ms: 60_000 }] })
        await new Promise((r) => setTimeout(r, 400))
        expect(() => lease.assertHeld()).toThrow(`lost the migration lock (generation ${lease.generation}) to another migrator`)
      },
      { leaseMs: 300 },
    )
  })
})

describe('migrations with clickhouse.cluster set', () => {
  // The embedded engine is one node without a cluster: that it refuses the statements shows they went ON CLUSTER
  // (what a cluster makes of them is in cluster.test.ts).
  it.each(paths)('send their DDL ON CLUSTER, the lock table included (%s)', async (_name, connect) => {
    const { client, bootstrap, database } = fresh(connect)
    await expect(migrate({ client, bootstrap, database, cluster: 'prod' })).rejects.toThrow("Requested cluster 'prod' not found")
    expect(await rows(bootstrap, `SELECT name FROM system.databases WHERE name = '${database}'`)).toEqual([])
    await bootstrap.command({ query: `CREATE DATABASE ${database}` })
    // a macro is the server's to expand: this one has none
    await expect(migrate({ client, bootstrap, database, cluster: '{cluster}' })).rejects.toThrow("No macro 'cluster' in config")
    await expect(withMigrationLock(client, async () => {}, { cluster: 'prod' })).rejects.toThrow("Requested cluster 'prod' not found")
    expect(await rows(client, 'SHOW TABLES')).toEqual([])
  })
})

describe('two gateways migrating one ClickHouse at once', () => {
  it('apply each migration once, between them', async () => {
    for (let round = 0; round < 3; round++) {
      const database = `mig_race_${round}`
      // two clients of their own on one database over HTTP, as two processes would be
      const [a, b] = [0, 1].map(() => overHttp(database))
      const [ba, bb] = [0, 1].map(() => overHttp('default'))
      opened.push(a!, b!, ba!, bb!)
      const [appliedA, appliedB] = await Promise.all([
        migrate({ client: a!, bootstrap: ba!, database, lock: { owner: 'a', pollMs: 20 } }),
        migrate({ client: b!, bootstrap: bb!, database, lock: { owner: 'b', pollMs: 20 } }),
      ])
      expect([...appliedA, ...appliedB].sort()).toEqual(readMigrations().map((m) => m.name))
      const counts = await rows<{ version: number; n: string }>(a!, 'SELECT version, count() AS n FROM schema_migrations GROUP BY version ORDER BY version')
      expect(counts).toEqual(readMigrations().map((m) => ({ version: m.version, n: '1' })))
    }
  })
})

describe('retention settings', () => {
  it.each([
    ["MergeTree ORDER BY x TTL toDateTime(request_at) + toIntervalDay(_CAST(90, 'UInt32')) TO VOLUME 'cold' SETTINGS index_granularity = 8192, storage_policy = 'tiered'", { policy: 'tiered', move: { time: 'request_at', days: 90, volume: 'cold' } }],
    ["MergeTree ORDER BY x TTL toDateTime(created_at) + toIntervalDay(30) TO VOLUME 'default' SETTINGS index_granularity = 8192", { policy: 'default', move: { time: 'created_at', days: 30, volume: 'default' } }],
    ['MergeTree ORDER BY x SETTINGS index_granularity = 8192', { policy: 'default' }],
    // anything else is not ours: applied again rather than skipped
    ["MergeTree ORDER BY x TTL toDateTime(request_at) + toIntervalDay(90) TO VOLUME 'cold', toDateTime(request_at) + toIntervalDay(900) DELETE", { policy: 'default' }],
  ])('reads the tiering of %s', (engineFull, expected) => {
    expect(readTiering(engineFull)).toEqual(expected)
  })

  it.each(paths)('are applied when they change, and a restart with the same settings alters nothing (%s)', async (_name, connect) => {
    const { client, bootstrap, database } = fresh(connect)
    await migrate({ client, bootstrap, database })
    const state = async () => ({
      mutations: (await rows<{ n: string }>(client, 'SELECT count() AS n FROM system.mutations WHERE database = currentDatabase()'))[0]!.n,
      tables: await rows(client, "SELECT name, engine_full, metadata_modification_time FROM system.tables WHERE database = currentDatabase() AND name IN ('request_logs', 'conversation_contents') ORDER BY name"),
    })
    const tiering = { storage_policy: 'default', move_after: '90d', cold_volume: 'default' }
    expect(await applyRetention(client, tiering)).toBe(true)
    const first = await state()
    expect(JSON.stringify(first.tables)).toContain("toIntervalDay(_CAST(90, 'UInt32')) TO VOLUME 'default'")
    await new Promise((r) => setTimeout(r, 1100)) // metadata_modification_time counts seconds
    expect(await applyRetention(client, tiering)).toBe(false)
    expect(await state()).toEqual(first)
    expect(await applyRetention(client, { ...tiering, move_after: '30d' })).toBe(true)
    const changed = await state()
    expect(Number(changed.mutations)).toBeGreaterThan(Number(first.mutations))
    expect(JSON.stringify(changed.tables)).toContain("toIntervalDay(_CAST(30, 'UInt32')) TO VOLUME 'default'")
  })
})
