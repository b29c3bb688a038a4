import { readdirSync, readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client'
import { withMigrationLock, type LockOptions } from './migration-lock.ts'
import { onCluster } from './cluster.ts'

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../clickhouse')

export interface Migration {
  version: number
  name: string
  /**
   * of the file's text, line endings normalized (a CRLF checkout is the same migration); the statements a
   * cluster runs (cluster.ts) are derived from that text, so the checksum is the same in both modes
   */
  checksum: string
  /** marked `-- ccproxy:optional`: a server that cannot run it skips it (a feature it lacks) */
  optional: boolean
  statements: string[]
}

/** The numbered .sql files of clickhouse/, in order. Statements end with a semicolon at the end of a line. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n')
      const statements = sql
        .split(/;[ \t]*(?:--[^\n]*)?(?:\n|$)/)
        .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
        .filter(Boolean)
      return {
        version: Number(file.split('_')[0]),
        name: file.replace(/\.sql$/, ''),
        checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16),
        optional: /^--\s*ccproxy:optional\b/.test(sql),
        statements,
      }
    })
}

/** A migration file that no longer matches what was applied: start-up stops rather than guess. */
export class MigrationChangedError extends Error {}

export const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    note       String DEFAULT '',
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version`

/** Each applied version with the checksum of its newest ledger row ('' when that row has none). */
async function readLedger(client: ClickHouseClient): Promise<Map<number, string>> {
  const rs = await client.query({
    query: 'SELECT version, argMax(checksum, applied_at) AS checksum FROM schema_migrations GROUP BY version',
    format: 'JSONEachRow',
  })
  return new Map((await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]))
}

export async function appliedVersions(client: ClickHouseClient): Promise<Set<number>> {
  return new Set((await readLedger(client)).keys())
}

function assertUnchanged(migrations: Migration[], ledger: Map<number, string>): void {
  for (const m of migrations) {
    const recorded = ledger.get(m.version)
    if (recorded && recorded !== m.checksum) {
      throw new MigrationChangedError(
        `migration ${m.name} has changed since it was applied (checksum ${recorded} then, ${m.checksum} now): ` +
          `restore clickhouse/${m.name}.sql as it was and put schema changes in a new numbered migration`,
      )
    }
  }
}

/**
 * Applies, in order, every migration not yet recorded in schema_migrations, holding the migration lock so
 * that migrators started together apply each migration once. A migration is recorded only after all of its
 * statements succeeded; one that fails half-way runs again from its first statement at the next start, so
 * every statement must be idempotent (IF NOT EXISTS, IF EXISTS, an INSERT that skips what is there).
 * A recorded migration whose file has changed stops everything before anything runs.
 * `bootstrap` is a client on the server's default database, used to create ours. With `cluster`, every DDL
 * statement (ours and the files') runs ON CLUSTER with Replicated engines (see cluster.ts).
 */
export async function migrate(opts: {
  client: ClickHouseClient
  bootstrap: ClickHouseClient
  database: string
  migrations?: Migration[]
  log?: (msg: string) => void
  lock?: Omit<LockOptions, 'log' | 'cluster'>
  /** clickhouse.cluster ('' or absent: one server) */
  cluster?: string
}): Promise<string[]> {
  const { client, bootstrap, database, log } = opts
  const cluster = opts.cluster ?? ''
  const migrations = opts.migrations ?? readMigrations()
  await bootstrap.command({ query: onCluster('CREATE DATABASE IF NOT EXISTS {db:Identifier}', cluster), query_params: { db: database } })
  await client.command({ query: onCluster(LEDGER, cluster) })
  // The common start: nothing to do, and no lock taken.
  const seen = await readLedger(client)
  assertUnchanged(migrations, seen)
  if (migrations.every((m) => seen.get(m.version))) return []

  return withMigrationLock(
    client,
    async (lease) => {
      const ledger = await readLedger(client)
      assertUnchanged(migrations, ledger)
      // synchronous: the next migrator reads the ledger as soon as it has the lock
      const record = (m: Migration, note: string) =>
        client.insert({
          table: 'schema_migrations',
          values: [{ version: m.version, name: m.name, checksum: m.checksum, note }],
          format: 'JSONEachRow',
          clickhouse_settings: { async_insert: 0 },
        })
      const applied: string[] = []
      for (const m of migrations) {
        lease.assertHeld()
        if (ledger.has(m.version)) {
          if (ledger.get(m.version) === '') {
            // applied by a version of ccproxy that stored no checksum (or cleared by hand to accept the file)
            await record(m, 'checksum recorded')
            log?.(`migration ${m.name} was recorded without a checksum: recorded ${m.checksum}`)
          }
          continue
        }
        const note = await run(client, m, cluster)
        lease.assertHeld()
        await record(m, note)
        log?.(note ? `optional migration ${m.name} ${note}` : `applied migration ${m.name}`)
        applied.push(m.name)
      }
      return applied
    },
    { ...opts.lock, cluster, ...(log ? { log } : {}) },
  )
}

/**
 * Runs a migration's statements; '' when all ran. An optional migration whose first statement the server
 * refuses (a feature it lacks) is skipped with a note; any other failure — a later statement, or ClickHouse
 * unreachable — throws, and the migration stays unrecorded.
 */
async function run(client: ClickHouseClient, m: Migration, cluster: string): Promise<string> {
  for (const [i, statement] of m.statements.entries()) {
    try {
      await client.command({ query: onCluster(statement, cluster) })
    } catch (err) {
      if (m.optional && i === 0 && err instanceof ClickHouseError) return `skipped: ${err.message.split('\n')[0]}`
      throw new Error(`migration ${m.name} failed at statement ${i + 1} of ${m.statements.length}: ${(err as Error).message}`, { cause: err })
    }
  }
  return ''
}

/** True when every migration file has been applied (what /ready checks). */
export async function isMigrated(client: ClickHouseClient): Promise<boolean> {
  const done = await appliedVersions(client)
  return readMigrations().every((m) => done.has(m.version))
}
