import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import type { Config } from '../config.ts'
import { openEmbeddedEngine, type EmbeddedEngine } from './embedded/engine.ts'
import { createEmbeddedClient } from './embedded/connection.ts'
import { migrate, isMigrated } from './migrate.ts'
import { applyRetention, type RetentionConfig } from './retention.ts'
import { TokenStore } from './tokens.ts'
import { AccountStore } from './accounts.ts'
import { RequestLogStore } from './request-logs.ts'
import { ConversationStore } from './conversations.ts'
import { StatsStore } from './stats.ts'

/**
 * The only door to ClickHouse. Everything above it holds a ClickHouseClient and never learns whether the
 * engine runs in this process (chdb, the zero-configuration default) or is a server reached over HTTP.
 */
export interface Warehouse {
  readonly kind: 'embedded' | 'server'
  /** ccproxy's own state (tokens, accounts, migrations): never queued behind the lanes below */
  readonly client: ClickHouseClient
  /** the exporter's inserts, on connections of their own */
  readonly ingest: ClickHouseClient
  /** the admin API's reads (the stores below): clickhouse.admin_queries bounds them */
  readonly analytics: ClickHouseClient
  /** the embedded engine, when there is one (the gateway serves its HTTP interface) */
  readonly engine?: EmbeddedEngine
  readonly tokens: TokenStore
  readonly accounts: AccountStore
  readonly requestLogs: RequestLogStore
  readonly conversations: ConversationStore
  readonly stats: StatsStore
  migrate(log?: (msg: string) => void): Promise<string[]>
  /** reachable and fully migrated */
  ready(): Promise<boolean>
  close(): Promise<void>
}

/** ClickHouse did not answer (a server that is down, not there yet, or out of reach); worth trying again. */
export class WarehouseUnreachableError extends Error {}

/** Tables no SQL reader may see rows of: the embedded engine hides them from read-only connections. */
export const SECRET_TABLES = ['account_credentials']

type WarehouseConfig = Pick<Config, 'clickhouse' | 'data_dir'> & Partial<Pick<Config, 'retention'>>

export function openWarehouse(config: WarehouseConfig): Warehouse {
  const { database, admin_queries: admin } = config.clickhouse
  // Three clients, three lanes: what one does (a long export, an outage's backlog) never queues another.
  // Threads: a server's own cores are not the gateway's, so its default stands unless set; the embedded engine
  // shares the gateway's cores, so its admin queries get half of them unless set.
  const adminSettings = (threads: number) => ({ ...(threads > 0 ? { max_threads: threads } : {}), max_execution_time: admin.max_execution_time })
  if (config.clickhouse.url) {
    const connect = (db: string, lane?: { max_open_connections: number; clickhouse_settings: ClickHouseSettings }) =>
      createClient({
        url: config.clickhouse.url,
        username: config.clickhouse.username,
        password: config.clickhouse.password,
        database: db,
        application: 'ccproxy',
        // The gateway logs what fails itself; the client's own error log would print ClickHouse messages
        // that can quote row data.
        log: { level: ClickHouseLogLevel.OFF },
        ...(lane ? { max_open_connections: lane.max_open_connections } : {}),
        clickhouse_settings: { date_time_input_format: 'best_effort', ...lane?.clickhouse_settings },
      })
    return assemble(
      'server',
      { state: connect(database), ingest: connect(database), analytics: connect(database, { max_open_connections: admin.max_concurrent, clickhouse_settings: adminSettings(admin.max_threads) }) },
      () => connect('default'),
      database,
      config.retention,
      undefined,
      `ClickHouse at ${config.clickhouse.url}`,
      config.clickhouse.cluster,
    )
  }
  const engine = openEmbeddedEngine(config.clickhouse.embedded.path || join(config.data_dir, 'clickhouse'), {
    readerLimits: config.clickhouse.embedded.reader_limits,
    hiddenTables: SECRET_TABLES.map((table) => ({ database, table })),
  })
  const connect = (db: string) => createEmbeddedClient(engine, { database: db })
  // The sandbox's constraints cap every connection at the reader limits: no more time than a reader has.
  const maxTime = Math.min(admin.max_execution_time, config.clickhouse.embedded.reader_limits.max_execution_time)
  const threads = admin.max_threads || Math.max(1, Math.floor(availableParallelism() / 2))
  const analytics = createEmbeddedClient(engine, { database, max_open_connections: admin.max_concurrent, clickhouse_settings: { ...adminSettings(threads), max_execution_time: maxTime } })
  return assemble('embedded', { state: connect(database), ingest: connect(database), analytics }, () => connect('default'), database, config.retention, engine, `the embedded ClickHouse engine`)
}

interface Lanes {
  state: ClickHouseClient
  ingest: ClickHouseClient
  analytics: ClickHouseClient
}

function assemble(
  kind: Warehouse['kind'],
  { state: client, ingest, analytics }: Lanes,
  bootstrapClient: () => ClickHouseClient,
  database: string,
  retention: RetentionConfig | undefined,
  engine: EmbeddedEngine | undefined,
  where: string,
  /** clickhouse.cluster: migrations run ON CLUSTER (a server only; config refuses it with the embedded engine) */
  cluster = '',
): Warehouse {
  return {
    kind,
    client,
    ingest,
    analytics,
    ...(engine ? { engine } : {}),
    tokens: new TokenStore(client),
    accounts: new AccountStore(client),
    requestLogs: new RequestLogStore(analytics),
    conversations: new ConversationStore(analytics),
    stats: new StatsStore(analytics),
    async migrate(log) {
      const bootstrap = bootstrapClient()
      try {
        const ping = await bootstrap.ping()
        if (!ping.success) throw new WarehouseUnreachableError(`${where} is not reachable: ${ping.error.message}`, { cause: ping.error })
        const applied = await migrate({ client, bootstrap, database, cluster, ...(log ? { log } : {}) })
        if (retention && (await applyRetention(client, retention))) log?.(`old parts move to volume ${retention.cold_volume} after ${retention.move_after}`)
        return applied
      } finally {
        await bootstrap.close()
      }
    },
    async ready() {
      try {
        return (await client.ping()).success && (await isMigrated(client))
      } catch {
        return false
      }
    },
    async close() {
      await Promise.all([client.close(), ingest.close(), analytics.close()])
      await engine?.close()
    },
  }
}
