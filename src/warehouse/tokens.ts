import type { ClickHouseClient } from '@clickhouse/client'
import { type Clock, Versions, fromClickHouseTime, toClickHouseTime } from './time.ts'

export type TokenMode = 'web' | 'api' | 'both'

export interface TokenRow {
  id: string
  name: string
  mode: TokenMode
  created_at: Date
  expires_at: Date
  /** the earliest revocation, from token_revocations */
  revoked_at: Date | null
  enable_conversation_logging: boolean
}

/** A token as it is created: never revoked (revocation is `revoke`, never part of the row). */
export type NewToken = Omit<TokenRow, 'revoked_at'> & { revoked_at?: null }

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
  version: string | number
}

const COLUMNS = ['id', 'name', 'mode', 'created_at', 'expires_at', 'enable_conversation_logging', 'version']
  .map((c) => `t.${c}`)
  .join(', ')
const REVOCATIONS = 'SELECT token_id, min(revoked_at) AS revoked_at FROM token_revocations'

const fromStored = (r: StoredToken): TokenRow => ({
  id: r.id,
  name: r.name,
  mode: r.mode,
  created_at: fromClickHouseTime(r.created_at),
  expires_at: fromClickHouseTime(r.expires_at),
  revoked_at: fromClickHouseTime(r.revoked_at),
  enable_conversation_logging: Boolean(r.enable_conversation_logging),
})

/**
 * Tokens: a settings row per token (ReplacingMergeTree, each change a newer version) and revocations in an
 * append-only table beside it. A settings change rewrites the row it read and carries no revocation state,
 * so nothing that rewrites the row — racing a revoke, or from a replica whose clock is off — can undo one.
 * `clock` is the seam for tests that run replicas with different clocks.
 */
export class TokenStore {
  readonly #versions: Versions

  constructor(
    private readonly client: ClickHouseClient,
    private readonly clock: Clock = Date.now,
  ) {
    this.#versions = new Versions(clock)
  }

  /** Writes a new token's row. */
  async save(token: NewToken): Promise<void> {
    await this.write(token, this.#versions.next())
  }

  async get(id: string): Promise<TokenRow | undefined> {
    const stored = await this.read(id)
    return stored && fromStored(stored)
  }

  /** Sets conversation logging on a token; its new row is versioned above the one read. Undefined when unknown. */
  async setConversationLogging(id: string, enabled: boolean): Promise<TokenRow | undefined> {
    const stored = await this.read(id)
    if (!stored) return undefined
    const row = { ...fromStored(stored), enable_conversation_logging: enabled }
    await this.write(row, this.#versions.next(Number(stored.version)))
    return row
  }

  /** Revokes a token for good: appends a revocation (revoking twice keeps the first time). */
  async revoke(id: string): Promise<Date> {
    const at = new Date(this.clock())
    await this.client.insert({
      table: 'token_revocations',
      format: 'JSONEachRow',
      values: [{ token_id: id, revoked_at: toClickHouseTime(at) }],
    })
    return at
  }

  async list(): Promise<TokenListing[]> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS}, r.revoked_at AS revoked_at, u.last_used_at AS last_used_at
              FROM tokens AS t FINAL
              LEFT JOIN (${REVOCATIONS} GROUP BY token_id) AS r ON r.token_id = t.id
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

  /** Every token with its revocation: what the gateway keeps in memory to authenticate without a query. */
  async all(): Promise<TokenRow[]> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS}, r.revoked_at AS revoked_at
              FROM tokens AS t FINAL
              LEFT JOIN (${REVOCATIONS} GROUP BY token_id) AS r ON r.token_id = t.id
              SETTINGS join_use_nulls = 1`,
      format: 'JSONEachRow',
    })
    return (await rs.json<StoredToken>()).map(fromStored)
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

  private async read(id: string): Promise<StoredToken | undefined> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS}, r.revoked_at AS revoked_at
              FROM tokens AS t FINAL
              LEFT JOIN (${REVOCATIONS} WHERE token_id = {id:String} GROUP BY token_id) AS r ON r.token_id = t.id
              WHERE t.id = {id:String}
              LIMIT 1
              SETTINGS join_use_nulls = 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<StoredToken>()
    return row
  }

  private async write(token: NewToken | TokenRow, version: number): Promise<void> {
    await this.client.insert({
      table: 'tokens',
      format: 'JSONEachRow',
      values: [
        {
          id: token.id,
          name: token.name,
          mode: token.mode,
          created_at: toClickHouseTime(token.created_at),
          expires_at: toClickHouseTime(token.expires_at),
          enable_conversation_logging: token.enable_conversation_logging,
          version,
        },
      ],
    })
  }
}
