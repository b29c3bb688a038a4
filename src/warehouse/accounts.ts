import type { ClickHouseClient } from '@clickhouse/client'
import { fromClickHouseTime, nextVersion, toClickHouseTime } from './time.ts'

export type AccountType = 'api_key'

export interface AccountRow {
  id: string
  name: string
  type: AccountType
  /** sealed (encrypted) credentials; only the account registry opens them */
  credentials: string
  key_hint: string
  priority: number
  is_active: boolean
  created_at: Date
  updated_at: Date
}

interface StoredAccount extends Omit<AccountRow, 'created_at' | 'updated_at' | 'is_active' | 'priority'> {
  created_at: string
  updated_at: string
  is_active: boolean | number
  priority: number | string
}

const COLUMNS = 'id, name, type, credentials, key_hint, priority, is_active, created_at, updated_at'

/** The accounts table: a change writes a newer version of the row; a deletion writes one with is_deleted. */
export class AccountStore {
  constructor(private readonly client: ClickHouseClient) {}

  async save(account: AccountRow, deleted = false): Promise<void> {
    await this.client.insert({
      table: 'accounts',
      format: 'JSONEachRow',
      values: [
        {
          ...account,
          created_at: toClickHouseTime(account.created_at),
          updated_at: toClickHouseTime(account.updated_at),
          version: nextVersion(),
          is_deleted: deleted ? 1 : 0,
        },
      ],
    })
  }

  list(): Promise<AccountRow[]> {
    return this.select('')
  }

  async get(id: string): Promise<AccountRow | undefined> {
    const [row] = await this.select('AND id = {id:String}', { id })
    return row
  }

  private async select(filter: string, query_params: Record<string, string> = {}): Promise<AccountRow[]> {
    const rs = await this.client.query({
      query: `SELECT ${COLUMNS} FROM accounts FINAL WHERE is_deleted = 0 ${filter} ORDER BY created_at`,
      query_params,
      format: 'JSONEachRow',
    })
    return (await rs.json<StoredAccount>()).map((r) => ({
      ...r,
      priority: Number(r.priority),
      is_active: Boolean(r.is_active),
      created_at: fromClickHouseTime(r.created_at),
      updated_at: fromClickHouseTime(r.updated_at),
    }))
  }
}
