import type { ClickHouseClient } from '@clickhouse/client'
import { type Clock, Versions, fromClickHouseTime, toClickHouseTime } from './time.ts'

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
  /** the latest change to any part of the account */
  updated_at: Date
}

/** A new account; the store stamps its times. */
export type NewAccount = Omit<AccountRow, 'created_at' | 'updated_at'>

/** The parts of an account a change may set; each part is written on its own. */
export interface AccountChange {
  name?: string
  priority?: number
  is_active?: boolean
  key?: { credentials: string; key_hint: string }
}

interface StoredAccount {
  id: string
  name: string
  type: AccountType
  credentials: string
  key_hint: string
  priority: number | string
  is_active: boolean | number
  created_at: string
  updated_at: string
  version: string
  status_version: string
  credentials_version: string
}

const SELECT = `SELECT a.id AS id, a.name AS name, a.type AS type, c.credentials AS credentials, c.key_hint AS key_hint,
       a.priority AS priority, s.is_active AS is_active, a.created_at AS created_at,
       greatest(a.updated_at, s.updated_at, c.updated_at) AS updated_at,
       a.version AS version, s.version AS status_version, c.version AS credentials_version
FROM accounts AS a FINAL
INNER JOIN (SELECT id, credentials, key_hint, updated_at, version FROM account_credentials FINAL) AS c ON c.id = a.id
INNER JOIN (SELECT id, is_active, updated_at, version FROM account_status FINAL) AS s ON s.id = a.id
WHERE a.id NOT IN (SELECT account_id FROM account_deletions)`

/**
 * Stored accounts, in four tables so that no change can undo another it did not mean to touch:
 *   accounts            name, priority, type, created_at — what dashboards read; a rename rewrites this row
 *   account_status      is_active — written only by enabling or disabling
 *   account_credentials the sealed key and its hint — written only when the key is set (readers are denied it)
 *   account_deletions   append-only tombstones — an account is gone once one exists
 * Each rewrite is versioned above the version it read, whatever this replica's clock says (`clock` is the
 * seam for tests that run replicas with different clocks). An account appears once all its parts exist.
 */
export class AccountStore {
  readonly #versions: Versions

  constructor(
    private readonly client: ClickHouseClient,
    private readonly clock: Clock = Date.now,
  ) {
    this.#versions = new Versions(clock)
  }

  async add(account: NewAccount): Promise<void> {
    const at = this.now()
    // the accounts row last: the account is listed once it is complete
    await this.writeKey(account.id, { credentials: account.credentials, key_hint: account.key_hint }, at, 0)
    await this.writeStatus(account.id, account.is_active, at, 0)
    await this.writeAccount({ ...account, created_at: at }, at, 0)
  }

  /** Applies a change, each part over the version of that part it read; false when there is no such account. */
  async update(id: string, change: AccountChange): Promise<boolean> {
    const current = await this.read(id)
    if (!current) return false
    const at = this.now()
    const row = fromStored(current)
    if (change.name !== undefined || change.priority !== undefined) {
      const next = { ...row, name: change.name ?? row.name, priority: change.priority ?? row.priority }
      await this.writeAccount(next, at, Number(current.version))
    }
    if (change.is_active !== undefined) await this.writeStatus(id, change.is_active, at, Number(current.status_version))
    if (change.key) await this.writeKey(id, change.key, at, Number(current.credentials_version))
    return true
  }

  /** Deletes an account for good (a tombstone), and wipes its sealed key; false when there is no such account. */
  async remove(id: string): Promise<boolean> {
    const current = await this.read(id)
    if (!current) return false
    const at = this.now()
    await this.client.insert({
      table: 'account_deletions',
      format: 'JSONEachRow',
      values: [{ account_id: id, deleted_at: toClickHouseTime(at) }],
    })
    await this.writeKey(id, { credentials: '', key_hint: '' }, at, Number(current.credentials_version))
    return true
  }

  async list(): Promise<AccountRow[]> {
    const rs = await this.client.query({ query: `${SELECT} ORDER BY created_at`, format: 'JSONEachRow' })
    return (await rs.json<StoredAccount>()).map(fromStored)
  }

  async get(id: string): Promise<AccountRow | undefined> {
    const row = await this.read(id)
    return row && fromStored(row)
  }

  private now(): Date {
    return new Date(this.clock())
  }

  private async read(id: string): Promise<StoredAccount | undefined> {
    const rs = await this.client.query({ query: `${SELECT} AND a.id = {id:String}`, query_params: { id }, format: 'JSONEachRow' })
    const [row] = await rs.json<StoredAccount>()
    return row
  }

  private async writeAccount(a: Pick<AccountRow, 'id' | 'name' | 'type' | 'priority' | 'created_at'>, at: Date, readVersion: number) {
    await this.insert('accounts', {
      id: a.id,
      name: a.name,
      type: a.type,
      priority: a.priority,
      created_at: toClickHouseTime(a.created_at),
      updated_at: toClickHouseTime(at),
      version: this.#versions.next(readVersion),
    })
  }

  private async writeStatus(id: string, isActive: boolean, at: Date, readVersion: number) {
    await this.insert('account_status', { id, is_active: isActive, updated_at: toClickHouseTime(at), version: this.#versions.next(readVersion) })
  }

  private async writeKey(id: string, key: { credentials: string; key_hint: string }, at: Date, readVersion: number) {
    await this.insert('account_credentials', { id, ...key, updated_at: toClickHouseTime(at), version: this.#versions.next(readVersion) })
  }

  private async insert(table: string, row: Record<string, unknown>): Promise<void> {
    await this.client.insert({ table, format: 'JSONEachRow', values: [row] })
  }
}

function fromStored(r: StoredAccount): AccountRow {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    credentials: r.credentials,
    key_hint: r.key_hint,
    priority: Number(r.priority),
    is_active: Boolean(r.is_active),
    created_at: fromClickHouseTime(r.created_at),
    updated_at: fromClickHouseTime(r.updated_at),
  }
}
