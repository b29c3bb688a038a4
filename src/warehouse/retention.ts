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

/**
 * Archive tiering: nothing is ever deleted, but with a storage policy that has a cold volume, old parts
 * move there (TTL … TO VOLUME). Applied at start-up, so changing the setting and restarting re-tiers.
 * The volume name is the one value that cannot be a bound parameter (ClickHouse's grammar wants a
 * literal there); config validation allows only [A-Za-z0-9_.-] in it.
 */
export async function applyRetention(client: ClickHouseClient, r: RetentionConfig): Promise<boolean> {
  if (!r.move_after) return false
  const days = Number(r.move_after.replace(/d$/, ''))
  if (!/^[A-Za-z0-9_.-]+$/.test(r.cold_volume)) throw new Error(`retention.cold_volume: invalid volume name ${JSON.stringify(r.cold_volume)}`)
  for (const { table, time } of TIERED) {
    if (r.storage_policy) {
      await client.command({ query: `ALTER TABLE ${table} MODIFY SETTING storage_policy = {policy:String}`, query_params: { policy: r.storage_policy } })
    }
    await client.command({
      query: `ALTER TABLE ${table} MODIFY TTL toDateTime(${time}) + toIntervalDay({days:UInt32}) TO VOLUME '${r.cold_volume}'`,
      query_params: { days },
    })
  }
  return true
}
