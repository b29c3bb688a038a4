import { createHash, randomUUID } from 'node:crypto'
import type { AccountStore, AccountRow } from '../warehouse/accounts.ts'
import type { CredentialBox } from '../secrets.ts'
import type { AccountPool, UpstreamAccount } from './pool.ts'

/** What the admin API shows of an account: never the credentials. */
export interface AccountView {
  id: string
  name: string
  type: 'api_key'
  source: 'config' | 'stored'
  key_hint: string
  priority: number
  is_active: boolean
  created_at: Date | null
  updated_at: Date | null
}

export const keyHint = (key: string) => (key.length > 12 ? `${key.slice(0, 7)}…${key.slice(-4)}` : '…')

/** Config keys become accounts with a stable id derived from the key (a digest, not the key). */
function configAccount(apiKey: string, index: number): UpstreamAccount {
  const digest = createHash('sha256').update(apiKey).digest('hex').slice(0, 12)
  return { id: `cfg_${digest}`, name: `config key ${index + 1}`, type: 'api_key', apiKey, priority: 0, isActive: true, source: 'config' }
}

/**
 * The upstream accounts: keys from config plus accounts stored in ClickHouse (credentials sealed at rest).
 * Reloads stored accounts periodically so every replica sees additions and removals.
 */
export class AccountRegistry {
  readonly #config: UpstreamAccount[]
  #stored: AccountRow[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(
    private readonly store: AccountStore,
    private readonly box: CredentialBox,
    private readonly pool: AccountPool,
    configKeys: string[],
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.#config = configKeys.map(configAccount)
    this.pool.setAccounts(this.#config)
  }

  async reload(): Promise<void> {
    this.#stored = await this.store.list()
    const stored: UpstreamAccount[] = []
    for (const row of this.#stored) {
      try {
        const { api_key } = JSON.parse(this.box.open(row.credentials)) as { api_key: string }
        stored.push({ id: row.id, name: row.name, type: row.type, apiKey: api_key, priority: row.priority, isActive: row.is_active, source: 'stored' })
      } catch (err) {
        this.onError(new Error(`account ${row.id}: credentials cannot be opened (was jwt.secret changed?)`, { cause: err }))
      }
    }
    this.pool.setAccounts([...this.#config, ...stored])
  }

  /** Reloads every `intervalMs`; errors are reported, not thrown (the last good list stays in use). */
  watch(intervalMs: number): void {
    this.#timer = setInterval(() => this.reload().catch(this.onError), intervalMs).unref()
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  list(): AccountView[] {
    const stored = new Map(this.#stored.map((r) => [r.id, r]))
    return this.pool.accounts.map((a) => {
      const row = stored.get(a.id)
      return {
        id: a.id,
        name: a.name,
        type: a.type,
        source: a.source,
        key_hint: keyHint(a.apiKey),
        priority: a.priority,
        is_active: a.isActive,
        created_at: row?.created_at ?? null,
        updated_at: row?.updated_at ?? null,
      }
    })
  }

  get(id: string): AccountView | undefined {
    return this.list().find((a) => a.id === id)
  }

  async add(input: { name: string; api_key: string; priority?: number }): Promise<AccountView> {
    const id = `acc_${randomUUID()}`
    await this.store.add({
      id,
      name: input.name,
      type: 'api_key',
      credentials: this.box.seal(JSON.stringify({ api_key: input.api_key })),
      key_hint: keyHint(input.api_key),
      priority: input.priority ?? 0,
      is_active: true,
    })
    await this.reload()
    return this.get(id)!
  }

  /** Updates a stored account; undefined when there is no such stored account. */
  async update(id: string, patch: { name?: string; priority?: number; is_active?: boolean; api_key?: string }): Promise<AccountView | undefined> {
    const { api_key, ...rest } = patch
    const key = api_key !== undefined ? { credentials: this.box.seal(JSON.stringify({ api_key })), key_hint: keyHint(api_key) } : undefined
    if (!(await this.store.update(id, { ...rest, ...(key ? { key } : {}) }))) return undefined
    await this.reload()
    return this.get(id)
  }

  async remove(id: string): Promise<boolean> {
    if (!(await this.store.remove(id))) return false
    await this.reload()
    return true
  }
}
