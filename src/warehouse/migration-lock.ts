import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { onCluster } from './cluster.ts'

/**
 * One migrator at a time on a ClickHouse database. ClickHouse has no transactions or advisory locks, but
 * an insert carrying an `insert_deduplication_token` the table has already seen is dropped, atomically,
 * on a server, on a cluster (Keeper) and on the embedded engine alike. So the lock is a sequence of
 * generations: whoever finds the newest generation free (released, or its lease expired) inserts the claim
 * of the next one with the token `migration-lock-<n>`; of several claims of one generation exactly one row
 * is stored, and reading it back says who won. The holder renews its lease while it works, so a crashed
 * migrator blocks the others for one lease at most. Every time is the server's clock.
 */

export const LOCK_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations_lock
(
    generation UInt64,
    owner      String,
    kind       LowCardinality(String),   -- claim | renew | release
    at         DateTime64(3, 'UTC') DEFAULT now64(3),
    lease_ms   UInt32
)
ENGINE = MergeTree
ORDER BY (generation, at)
SETTINGS non_replicated_deduplication_window = 1000`

export interface LockRow {
  generation: number
  owner: string
  kind: 'claim' | 'renew' | 'release'
  /** server time, epoch milliseconds */
  at: number
  lease_ms: number
}

export interface LockState {
  /** the newest generation (0: never claimed) */
  generation: number
  /** who holds it, when it is neither released nor expired */
  holder?: { owner: string; expiresAt: number }
}

/** The state of the newest generation from its rows, at the server's time `now`. */
export function lockState(rows: LockRow[], now: number): LockState {
  const generation = rows.reduce((g, r) => Math.max(g, r.generation), 0)
  const mine = rows.filter((r) => r.generation === generation)
  const claim = mine.find((r) => r.kind === 'claim')
  if (!claim) return { generation }
  const byHolder = mine.filter((r) => r.owner === claim.owner)
  if (byHolder.some((r) => r.kind === 'release')) return { generation }
  const expiresAt = Math.max(...byHolder.map((r) => r.at + r.lease_ms))
  return expiresAt > now ? { generation, holder: { owner: claim.owner, expiresAt } } : { generation }
}

export interface Lease {
  readonly owner: string
  readonly generation: number
  /** throws when a renewal found the lease taken over (this process stalled longer than the lease) */
  assertHeld(): void
}

export interface LockOptions {
  /** how long a claim holds without renewal (default 30 s); renewed every third of it */
  leaseMs?: number
  /** how often a waiting migrator looks again (default 500 ms, plus up to as much at random) */
  pollMs?: number
  /** names this migrator in the lock rows and in the messages of the others */
  owner?: string
  log?: (msg: string) => void
  /** clickhouse.cluster: the lock table is created ON CLUSTER, replicated ('' or absent: one server) */
  cluster?: string
}

/** Runs `work` holding the migration lock of the client's database; waits while another migrator holds it. */
export async function withMigrationLock<T>(client: ClickHouseClient, work: (lease: Lease) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const leaseMs = opts.leaseMs ?? 30_000
  const pollMs = opts.pollMs ?? 500
  const owner = opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  await client.command({ query: onCluster(LOCK_TABLE, opts.cluster ?? '') })
  const generation = await acquire(client, owner, leaseMs, pollMs, opts.log)
  let lost = false
  const renew = async () => {
    await write(client, { generation, owner, kind: 'renew', lease_ms: leaseMs })
    const state = lockState(await readNewest(client), await serverNow(client))
    if (state.generation !== generation || state.holder?.owner !== owner) lost = true
  }
  // A renewal that fails (ClickHouse gone for a moment) is retried at the next beat; the lease says how long that may last.
  const beat = setInterval(() => void renew().catch(() => undefined), Math.max(1, Math.floor(leaseMs / 3)))
  beat.unref()
  const lease: Lease = {
    owner,
    generation,
    assertHeld() {
      if (lost) throw new Error(`lost the migration lock (generation ${generation}) to another migrator: this process stalled for longer than its ${leaseMs} ms lease; start again`)
    },
  }
  try {
    return await work(lease)
  } finally {
    clearInterval(beat)
    // Not released (ClickHouse away): the lease runs out on its own.
    await write(client, { generation, owner, kind: 'release', lease_ms: 0 }).catch(() => undefined)
  }
}

async function acquire(client: ClickHouseClient, owner: string, leaseMs: number, pollMs: number, log?: (msg: string) => void): Promise<number> {
  let waitingFor: string | undefined
  for (;;) {
    const rows = await readNewest(client)
    const state = lockState(rows, rows.length ? await serverNow(client) : 0)
    if (!state.holder) {
      const generation = state.generation + 1
      await write(client, { generation, owner, kind: 'claim', lease_ms: leaseMs }, `migration-lock-${generation}`)
      if ((await claimant(client, generation)) === owner) return generation
      continue // another claim of this generation was stored first: it holds the lock now
    }
    if (waitingFor !== state.holder.owner) {
      waitingFor = state.holder.owner
      log?.(`waiting for ${waitingFor}, which is migrating this database`)
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs + Math.random() * pollMs))
  }
}

async function write(client: ClickHouseClient, row: Omit<LockRow, 'at'>, deduplicationToken?: string): Promise<void> {
  await client.insert({
    table: 'schema_migrations_lock',
    format: 'JSONEachRow',
    values: [row],
    // Stored before the call returns (never buffered by async inserts), so reading back tells who won.
    // Renewals and releases must all be stored: only a claim is deduplicated, and by its generation alone.
    clickhouse_settings: {
      async_insert: 0,
      ...(deduplicationToken ? { insert_deduplicate: 1, insert_deduplication_token: deduplicationToken } : { insert_deduplicate: 0 }),
    },
  })
}

async function readNewest(client: ClickHouseClient): Promise<LockRow[]> {
  const rs = await client.query({
    query: `SELECT generation, owner, kind, toUnixTimestamp64Milli(at) AS at, lease_ms FROM schema_migrations_lock
            WHERE generation = (SELECT max(generation) FROM schema_migrations_lock)`,
    format: 'JSONEachRow',
  })
  return (await rs.json<Record<keyof LockRow, string | number>>()).map((r) => ({
    generation: Number(r.generation),
    owner: String(r.owner),
    kind: r.kind as LockRow['kind'],
    at: Number(r.at),
    lease_ms: Number(r.lease_ms),
  }))
}

async function claimant(client: ClickHouseClient, generation: number): Promise<string | undefined> {
  const rs = await client.query({
    query: `SELECT owner FROM schema_migrations_lock WHERE generation = {generation:UInt64} AND kind = 'claim' ORDER BY at LIMIT 1`,
    query_params: { generation },
    format: 'JSONEachRow',
  })
  return (await rs.json<{ owner: string }>())[0]?.owner
}

async function serverNow(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: 'SELECT toUnixTimestamp64Milli(now64(3)) AS now', format: 'JSONEachRow' })
  return Number((await rs.json<{ now: string }>())[0]!.now)
}
