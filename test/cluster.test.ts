import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { CLUSTER_NAME_RULE, isClusterName, onCluster } from '../src/warehouse/cluster.ts'
import { LEDGER, MIGRATIONS_DIR, readMigrations } from '../src/warehouse/migrate.ts'
import { LOCK_TABLE } from '../src/warehouse/migration-lock.ts'
import { ConfigError, loadConfig } from '../src/config.ts'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'

// No ClickHouse cluster runs here: the rewrite is checked as text (every statement of every migration file),
// and the embedded engine's parser (formatQuery) checks that ClickHouse reads the result as meant.

/** What a rewritten statement does: its head up to the ON CLUSTER clause, and its engine. */
function shape(ddl: string): string {
  const head = /^[\s\S]*?ON CLUSTER '[^']*'/.exec(ddl)?.[0].replace(/\s+/g, ' ') ?? `as written: ${ddl.split(/\s+/).slice(0, 3).join(' ')}`
  const engine = /\bENGINE\s*=\s*(\w+(?:\([^)]*\))?)/.exec(ddl)?.[1]
  return engine ? `${head} ENGINE ${engine}` : head
}

/** The statement back as the file has it: the two edits a cluster makes, undone. */
const undo = (ddl: string, cluster: string) => ddl.replace(` ON CLUSTER '${cluster}'`, '').replace(/(ENGINE\s*=\s*)Replicated(\w*MergeTree)/, '$1$2')

// One entry per file in clickhouse/, one line per statement: a new migration fails here until it is added.
const EXPECTED: Record<string, string[]> = {
  '0001_tokens_accounts': [
    "CREATE TABLE IF NOT EXISTS tokens ON CLUSTER 'prod' ENGINE ReplicatedReplacingMergeTree(version)",
    "CREATE TABLE IF NOT EXISTS token_last_used ON CLUSTER 'prod' ENGINE ReplicatedReplacingMergeTree(last_used_at)",
    "CREATE TABLE IF NOT EXISTS accounts ON CLUSTER 'prod' ENGINE ReplicatedReplacingMergeTree(version, is_deleted)",
  ],
  '0002_request_logs': [
    "CREATE TABLE IF NOT EXISTS request_logs ON CLUSTER 'prod' ENGINE ReplicatedMergeTree",
    "CREATE TABLE IF NOT EXISTS conversation_contents ON CLUSTER 'prod' ENGINE ReplicatedMergeTree",
    "CREATE TABLE IF NOT EXISTS usage_stats_daily ON CLUSTER 'prod' ENGINE ReplicatedAggregatingMergeTree",
    // the view has no storage of its own: it writes into usage_stats_daily, replicated above
    "CREATE MATERIALIZED VIEW IF NOT EXISTS usage_stats_daily_mv ON CLUSTER 'prod'",
  ],
  '0003_conversation_text_index': ["ALTER TABLE conversation_contents ON CLUSTER 'prod'", "ALTER TABLE conversation_contents ON CLUSTER 'prod'"],
  '0004_trace_ids': ["ALTER TABLE request_logs ON CLUSTER 'prod'", "ALTER TABLE request_logs ON CLUSTER 'prod'", "ALTER TABLE request_logs ON CLUSTER 'prod'"],
  '0005_append_only_state': [
    "CREATE TABLE IF NOT EXISTS token_revocations ON CLUSTER 'prod' ENGINE ReplicatedMergeTree",
    // data copies run once, on one node: the Replicated tables hand the rows to the others
    'as written: INSERT INTO token_revocations',
    "CREATE TABLE IF NOT EXISTS account_deletions ON CLUSTER 'prod' ENGINE ReplicatedMergeTree",
    'as written: INSERT INTO account_deletions',
    "CREATE TABLE IF NOT EXISTS account_credentials ON CLUSTER 'prod' ENGINE ReplicatedReplacingMergeTree(version)",
    'as written: INSERT INTO account_credentials',
    "CREATE TABLE IF NOT EXISTS account_status ON CLUSTER 'prod' ENGINE ReplicatedReplacingMergeTree(version)",
    'as written: INSERT INTO account_status',
  ],
  '0006_drop_moved_columns': [
    "ALTER TABLE accounts ON CLUSTER 'prod'",
    "ALTER TABLE accounts ON CLUSTER 'prod'",
    "ALTER TABLE accounts ON CLUSTER 'prod'",
    "ALTER TABLE tokens ON CLUSTER 'prod'",
  ],
}

describe('migrations on a cluster (clickhouse.cluster)', () => {
  const migrations = readMigrations()

  it('covers every migration file', () => {
    expect(migrations.map((m) => m.name)).toEqual(Object.keys(EXPECTED))
  })

  it.each(migrations.map((m) => [m.name, m] as const))('%s: DDL ON CLUSTER with Replicated engines, data copies as written', (name, m) => {
    const ddl = m.statements.map((s) => onCluster(s, 'prod'))
    expect(ddl.map(shape)).toEqual(EXPECTED[name])
    // nothing else changes: the rest is the file's SQL as a DBA reads it
    expect(ddl.map((s) => undo(s, 'prod'))).toEqual(m.statements)
  })

  it('without a cluster every statement runs as the file has it', () => {
    for (const s of migrations.flatMap((m) => m.statements)) expect(onCluster(s, '')).toBe(s)
  })

  it('the ledger, the lock table and the database go ON CLUSTER too', () => {
    expect(shape(onCluster(LEDGER, 'prod'))).toBe("CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER 'prod' ENGINE ReplicatedMergeTree")
    expect(shape(onCluster(LOCK_TABLE, 'prod'))).toBe("CREATE TABLE IF NOT EXISTS schema_migrations_lock ON CLUSTER 'prod' ENGINE ReplicatedMergeTree")
    expect(onCluster('CREATE DATABASE IF NOT EXISTS {db:Identifier}', 'prod')).toBe("CREATE DATABASE IF NOT EXISTS {db:Identifier} ON CLUSTER 'prod'")
  })

  it('checksums are of the files, so an install keeps them when it turns cluster mode on', () => {
    for (const m of migrations) {
      const text = readFileSync(join(MIGRATIONS_DIR, `${m.name}.sql`), 'utf8').replace(/\r\n/g, '\n')
      expect(m.checksum).toBe(createHash('sha256').update(text).digest('hex').slice(0, 16))
    }
    expect(readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql'))).toHaveLength(migrations.length)
  })

  it.each<[string, string, string]>([
    ['a macro the server expands', 'CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x', "CREATE TABLE t ON CLUSTER '{cluster}' (x UInt8) ENGINE = ReplicatedMergeTree ORDER BY x"],
    ['quoted and qualified names', 'ALTER TABLE `db`.`my table` DROP COLUMN x', "ALTER TABLE `db`.`my table` ON CLUSTER '{cluster}' DROP COLUMN x"],
    ['lower-case keywords', 'create table if not exists t (x UInt8) engine = SummingMergeTree order by x', "create table if not exists t ON CLUSTER '{cluster}' (x UInt8) engine = ReplicatedSummingMergeTree order by x"],
    ['a view and its inner engine', 'CREATE MATERIALIZED VIEW v ENGINE = AggregatingMergeTree ORDER BY x AS SELECT 1 AS x', "CREATE MATERIALIZED VIEW v ON CLUSTER '{cluster}' ENGINE = ReplicatedAggregatingMergeTree ORDER BY x AS SELECT 1 AS x"],
    ['an engine already replicated', "CREATE TABLE t (x UInt8) ENGINE = ReplicatedMergeTree('/p/{shard}', '{replica}') ORDER BY x", "CREATE TABLE t ON CLUSTER '{cluster}' (x UInt8) ENGINE = ReplicatedMergeTree('/p/{shard}', '{replica}') ORDER BY x"],
    ['a table outside the MergeTree family', 'CREATE TABLE t (x UInt8) ENGINE = Memory', "CREATE TABLE t ON CLUSTER '{cluster}' (x UInt8) ENGINE = Memory"],
    ['a drop', 'DROP TABLE IF EXISTS t', "DROP TABLE IF EXISTS t ON CLUSTER '{cluster}'"],
  ])('%s', (_, statement, expected) => {
    expect(onCluster(statement, '{cluster}')).toBe(expected)
  })

  it.each([
    ['OPTIMIZE TABLE request_logs FINAL', /cannot run on a ClickHouse cluster .*: OPTIMIZE TABLE request_logs FINAL/],
    ['RENAME TABLE a TO b', /cannot run on a ClickHouse cluster/],
    ["CREATE TABLE t ON CLUSTER 'other' (x UInt8) ENGINE = MergeTree ORDER BY x", /names its own cluster/],
  ])('refuses a statement it cannot place on a cluster: %s', (statement, message) => {
    expect(() => onCluster(statement, 'prod')).toThrow(message)
  })
})

describe('the cluster name', () => {
  it.each(['prod', 'ch_cluster', 'my-cluster.eu-1', '_x', '{cluster}', '', 'a'.repeat(255)])('accepts %j', (name) => {
    expect(isClusterName(name)).toBe(true)
  })

  it.each(["prod'", 'prod; DROP TABLE x', 'two words', '1st', '-x', '{cluster', '{a-b}', '`prod`', 'prod\n', 'a'.repeat(256)])('refuses %j', (name) => {
    expect(isClusterName(name)).toBe(false)
    expect(() => onCluster('DROP TABLE t', name)).toThrow(`clickhouse.cluster = ${JSON.stringify(name)}: ${CLUSTER_NAME_RULE}`)
  })

  const load = (env: Record<string, string>) => () => loadConfig({ file: 'config.yaml', env, warn: () => {} })

  it('is clickhouse.cluster (CCPROXY_CLICKHOUSE_CLUSTER), empty by default', () => {
    expect(load({})().clickhouse.cluster).toBe('')
    expect(load({ CCPROXY_CLICKHOUSE_URL: 'http://clickhouse:8123', CCPROXY_CLICKHOUSE_CLUSTER: 'prod' })().clickhouse.cluster).toBe('prod')
  })

  it('a bad name stops start-up with one line naming the key', () => {
    const bad = load({ CCPROXY_CLICKHOUSE_URL: 'http://clickhouse:8123', CCPROXY_CLICKHOUSE_CLUSTER: "prod' --" })
    expect(bad).toThrow(ConfigError)
    expect(bad).toThrow(`clickhouse.cluster = "prod' --": ${CLUSTER_NAME_RULE}`)
  })

  it('is refused with the embedded engine, which is one node', () => {
    expect(load({ CCPROXY_CLICKHOUSE_CLUSTER: 'prod' })).toThrow(/^invalid configuration:\n {2}clickhouse\.cluster = "prod": needs a ClickHouse server: set clickhouse\.url \(CCPROXY_CLICKHOUSE_URL\)/)
  })
})

describe("ClickHouse's parser reads the cluster DDL as meant (formatQuery on the embedded engine)", () => {
  let engine: EmbeddedEngine
  let client: ClickHouseClient
  beforeAll(() => {
    engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-cluster-ddl-')))
    client = createEmbeddedClient(engine, { database: 'default' })
  })
  afterAll(async () => {
    await client.close()
    await engine.close()
  })

  const format = async (sql: string) => {
    const rs = await client.query({ query: 'SELECT formatQuery({sql:String}) AS canonical', query_params: { sql }, format: 'JSONEachRow' })
    return (await rs.json<{ canonical: string }>())[0]!.canonical
  }
  const statements = [
    ...readMigrations().flatMap((m) => m.statements.map((s, i) => [`${m.name} #${i + 1}`, s] as const)),
    ['the migration ledger', LEDGER] as const,
    ['the migration lock', LOCK_TABLE] as const,
    ['the database', 'CREATE DATABASE IF NOT EXISTS {db:Identifier}'] as const,
  ]

  it.each(statements)('%s', async (_, statement) => {
    for (const cluster of ['prod', '{cluster}']) {
      const canonical = await format(onCluster(statement, cluster))
      if (/^\s*INSERT/i.test(statement)) {
        expect(canonical).not.toMatch(/ON CLUSTER|Replicated/)
        continue
      }
      // the parser puts the clause where it belongs (after the name) and keeps the replicated engine
      // (it quotes a name only when it must: `{cluster}`, prod)
      expect(canonical).toMatch(new RegExp(`^(CREATE|ALTER) [A-Z ]+ \\S+ ON CLUSTER (${cluster}|\`${cluster}\`)(\\s|$)`.replace(/[{}]/g, '\\$&')))
      const engine = /\bENGINE = (\w+)/.exec(canonical)?.[1]
      if (engine) expect(engine).toMatch(/^Replicated\w*MergeTree$/)
      // and without a cluster it reads the file's statement the same as before, clause and prefix aside
      expect(canonical.replace(/ ON CLUSTER (`[^`]+`|\S+)/, '').replace(/ENGINE = Replicated/, 'ENGINE = ')).toBe(await format(statement))
    }
  })
})
