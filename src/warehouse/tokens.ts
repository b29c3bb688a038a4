import type { ClickHouseClient } from '@clickhouse/client'
import { fromClickHouseTime, nextVersion, toClickHouseTime } from './time.ts'

export type TokenMode = 'web' | 'api' | 'both'

export interface TokenRow {
  id: string
  name: string
  mode: TokenMode
  created_at: Date
  expires_at: Date
  revoked_at: Date | null
  enable_conversation_logging: boolean
}

export interface TokenListing extends TokenRow {
  last_used_at: Date | null
}

interface StoredToken {
  id: string
  name: string
  mode: TokenMode
  created_at: string
  expires_at: string
  revoked_at: string | null
  enable_conversation_logging: boolean | number
}

const COLUMNS = 'id, name, mode, created_at, expires_at, revoked_at, enable_conversation_logging'

const fromStored = (r: StoredToken): TokenRow => ({
  id: r.id,
  name: r.name,
  mode: r.mode,
  created_at: fromClickHouseTime(r.created_at),
  expires_at: fromClickHouseTime(r.expires_at),
  revoked_at: fromClickHouseTime(r.revoked_at),
  enable_conversation_logging: Boolean(r.enable_conversation_logging),
})

/** The tokens table: each change writes a newer version of the row. */
export class TokenStore {
  constructor(private readonly client: ClickHouseClient) {}

  async save(token: TokenRow): Promise<void> {
    await this.client.insert({
      table: 'tokens',
      format: 'JSONEachRow',
      values: [
        {
          ...token,
          created_at: toClickHouseTime(token.created_at),
          expires_at: toClickHouseTime(token.expires_at),
          revoked_at: token.revoked_at && toClickHouseTime(token.revoked_at),
          version: nextVersion(),
        },
      ],
    })
  }

  async get(id: string): Promise<TokenRow | undefined> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS} FROM tokens FINAL WHERE id = {id:String} LIMIT 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<StoredToken>()
    return row && fromStored(row)
  }

  async list(): Promise<TokenListing[]> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS.split(', ').map((c) => `t.${c}`).join(', ')}, u.last_used_at AS last_used_at
              FROM tokens AS t FINAL
              LEFT JOIN (SELECT token_id, max(last_used_at) AS last_used_at FROM token_last_used GROUP BY token_id) AS u
                ON u.token_id = t.id
              ORDER BY t.created_at DESC
              SETTINGS join_use_nulls = 1`,
      format: 'JSONEachRow',
    })
    return (await rs.json<StoredToken & { last_used_at: string | null }>()).map((r) => ({
      ...fromStored(r),
      last_used_at: fromClickHouseTime(r.last_used_at),
    }))
  }

  async lastUsed(id: string): Promise<Date | null> {
    const rs = await this.client.query({
      query: 'SELECT max(last_used_at) AS at FROM token_last_used WHERE token_id = {id:String} HAVING count() > 0',
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<{ at: string }>()
    return row ? fromClickHouseTime(row.at) : null
  }

  async recordLastUsed(uses: Array<{ token_id: string; last_used_at: Date }>): Promise<void> {
    if (uses.length === 0) return
    await this.client.insert({
      table: 'token_last_used',
      format: 'JSONEachRow',
      values: uses.map((u) => ({ token_id: u.token_id, last_used_at: toClickHouseTime(u.last_used_at) })),
    })
  }
}
