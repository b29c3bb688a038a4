import type { ClickHouseClient } from '@clickhouse/client'

export interface RetentionConfig {
  /** a storage policy that has the cold volume; empty = keep the table's policy */
  storage_policy: string
  /** "90d": parts older than this move to the cold volume; empty = no tiering */
  move_after: string
  /** the volume parts move to */
  cold_volume: string
}

// The tables that grow with traffic, and the time that ages their rows.
const TIERED = [
  { table: 'request_logs', time: 'request_at' },
  { table: 'conversation_contents', time: 'created_at' },
] as const

/** What a table's definition (system.tables engine_full) says about tiering. */
export interface Tiering {
  /** the table's storage policy ('default' when it names none) */
  policy: string
  /** its move TTL, when it is exactly one `toDateTime(<time>) + toIntervalDay(<days>) TO VOLUME '<volume>'` */
  move?: { time: string; days: number; volume: string }
}

/**
 * Reads tiering from engine_full. ClickHouse prints a bound number as `_CAST(90, 'UInt32')`, a literal as
 * `90`; any other TTL reads as "no move TTL", which is applied again: never skipped wrongly.
 */
export function readTiering(engineFull: string): Tiering {
  const policy = /\bstorage_policy = '([^'\\]*)'/.exec(engineFull)?.[1] ?? 'default'
  const ttl = / TTL (.+?)(?: SETTINGS |$)/.exec(engineFull)?.[1]
  const m = ttl && /^toDateTime\((\w+)\) \+ toIntervalDay\((?:_CAST\()?(\d+)(?:, 'UInt32'\))?\) TO VOLUME '([^'\\]*)'$/.exec(ttl)
  return m ? { policy, move: { time: m[1]!, days: Number(m[2]), volume: m[3]! } } : { policy }
}

/**
 * Archive tiering: nothing is ever deleted, but with a storage policy that has a cold volume, old parts
 * move there (TTL … TO VOLUME). Checked at start-up against each table's definition and applied only where
 * it differs, so changing the setting and restarting re-tiers, and a restart with the same setting
 * changes nothing (MODIFY TTL rewrites the table's metadata and starts a mutation). Returns whether
 * anything was altered.
 * The volume name is the one value that cannot be a bound parameter (ClickHouse's grammar wants a
 * literal there); config validation allows only [A-Za-z0-9_.-] in it.
 */
export async function applyRetention(client: ClickHouseClient, r: RetentionConfig): Promise<boolean> {
  if (!r.move_after) return false
  const days = Number(r.move_after.replace(/d$/, ''))
  if (!/^[A-Za-z0-9_.-]+$/.test(r.cold_volume)) throw new Error(`retention.cold_volume: invalid volume name ${JSON.stringify(r.cold_volume)}`)
  const rs = await client.query({
    query: 'SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND name IN {tables:Array(String)}',
    query_params: { tables: TIERED.map((t) => t.table) },
    format: 'JSONEachRow',
  })
  const current = new Map((await rs.json<{ name: string; engine_full: string }>()).map((t) => [t.name, readTiering(t.engine_full)]))
  let altered = false
  for (const { table, time } of TIERED) {
    const now = current.get(table) ?? { policy: '' }
    if (r.storage_policy && now.policy !== r.storage_policy) {
      await client.command({ query: `ALTER TABLE ${table} MODIFY SETTING storage_policy = {policy:String}`, query_params: { policy: r.storage_policy } })
      altered = true
    }
    if (now.move?.time === time && now.move.days === days && now.move.volume === r.cold_volume) continue
    await client.command({
      query: `ALTER TABLE ${table} MODIFY TTL toDateTime(${time}) + toIntervalDay({days:UInt32}) TO VOLUME '${r.cold_volume}'`,
      query_params: { days },
    })
    altered = true
  }
  return altered
}
