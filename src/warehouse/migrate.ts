import { readdirSync, readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../clickhouse')

export interface Migration {
  version: number
  name: string
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
      const sql = readFileSync(join(dir, file), 'utf8')
      const statements = sql
        .split(/;[ \t]*(?:--[^\n]*)?(?:\r?\n|$)/)
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

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    note       String DEFAULT '',
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version`

export async function appliedVersions(client: ClickHouseClient): Promise<Set<number>> {
  const rs = await client.query({ query: 'SELECT DISTINCT version FROM schema_migrations', format: 'JSONEachRow' })
  return new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)))
}

/**
 * Applies, in order, every migration not yet recorded in schema_migrations. Each runs once; the
 * statements use IF NOT EXISTS so a migration interrupted half-way can simply run again.
 * `bootstrap` is a client on the server's default database, used to create ours.
 */
export async function migrate(opts: {
  client: ClickHouseClient
  bootstrap: ClickHouseClient
  database: string
  migrations?: Migration[]
  log?: (msg: string) => void
}): Promise<string[]> {
  const { client, bootstrap, database } = opts
  await bootstrap.command({ query: 'CREATE DATABASE IF NOT EXISTS {db:Identifier}', query_params: { db: database } })
  await client.command({ query: LEDGER })
  const done = await appliedVersions(client)
  const applied: string[] = []
  for (const m of opts.migrations ?? readMigrations()) {
    if (done.has(m.version)) continue
    let note = ''
    try {
      for (const statement of m.statements) await client.command({ query: statement })
    } catch (err) {
      if (!m.optional) throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err })
      note = `skipped: ${(err as Error).message.split('\n')[0]}`
    }
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: m.version, name: m.name, checksum: m.checksum, note }],
      format: 'JSONEachRow',
    })
    opts.log?.(note ? `optional migration ${m.name} ${note}` : `applied migration ${m.name}`)
    applied.push(m.name)
  }
  return applied
}

/** True when every migration file has been applied (what /ready checks). */
export async function isMigrated(client: ClickHouseClient): Promise<boolean> {
  const done = await appliedVersions(client)
  return readMigrations().every((m) => done.has(m.version))
}
