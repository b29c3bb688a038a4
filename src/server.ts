import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { Config } from './config.ts'
import { ensureSecrets } from './secrets.ts'
import { openWarehouse, type Warehouse } from './warehouse/index.ts'
import { startHttpInterface, type HttpInterface } from './warehouse/embedded/http-interface.ts'
import { buildApp, createServices, type Services } from './app.ts'
import type { Exchange } from './record/exchange.ts'
import type { RequestRecord } from './record/request-record.ts'
import { toRecord } from './record/build.ts'
import { Redactor } from './record/redaction.ts'
import { ClickHouseExporter } from './sinks/exporter.ts'

export interface RunningGateway {
  url: string
  app: FastifyInstance
  services: Services
  config: Config
  /** ClickHouse's HTTP interface over the embedded engine, when it is on */
  clickhouseHttp?: HttpInterface
  exporter: ClickHouseExporter
  generatedAdminKey?: string
  close(): Promise<void>
}

/**
 * Starts a gateway: secrets, warehouse (migrated), services, HTTP server, and in embedded mode the
 * ClickHouse HTTP interface. `close()` stops accepting, lets in-flight requests finish, then releases
 * everything in reverse order.
 */
export async function startGateway(
  configIn: Config,
  opts: {
    /** pino level; silent when not given */
    logLevel?: string
    /** tests: every finished exchange and its record */
    onExchange?: (exchange: Exchange, record: RequestRecord) => void
  } = {},
): Promise<RunningGateway> {
  const { config, generatedAdminKey } = ensureSecrets(configIn)
  const logger = pino({ level: opts.logLevel ?? 'silent' })
  const log = (err: unknown) => logger.error({ err }, (err as Error)?.message ?? String(err))
  const warehouse: Warehouse = openWarehouse(config)
  let services: Services | undefined
  let clickhouseHttp: HttpInterface | undefined
  let exporter: ClickHouseExporter | undefined
  try {
    await warehouse.migrate()
    services = createServices(config, warehouse, log)
    await services.accounts.reload()
    services.accounts.watch(30_000)
    exporter = new ClickHouseExporter(warehouse.client, {
      bufferSize: config.logging.buffer_size,
      batchSize: config.logging.batch_size,
      flushIntervalMs: config.logging.flush_interval,
      workers: config.logging.workers,
      spoolDir: join(config.data_dir, 'spool'),
      spoolMaxBytes: config.logging.spool_max_bytes,
      log: logger.child({ component: 'exporter' }),
    })
    await exporter.start()
    const redactor = new Redactor({ builtin: config.conversations.redact_builtin, rules: config.conversations.redact })
    const sink = exporter
    // Runs when a response is over; the client has its answer already. Building the record and enqueueing it
    // are synchronous and never throw into the request.
    const onExchange = (exchange: Exchange) => {
      try {
        const record = toRecord(exchange, redactor)
        sink.enqueue(record)
        opts.onExchange?.(exchange, record)
      } catch (err) {
        log(err)
      }
    }
    const app = buildApp(services, { logger, onExchange, exporter: sink })
    if (warehouse.engine && config.clickhouse.embedded.http_port > 0) {
      clickhouseHttp = await startHttpInterface(warehouse.engine, {
        host: '127.0.0.1',
        port: config.clickhouse.embedded.http_port,
        readonly: config.clickhouse.embedded.http_readonly,
      })
    }
    const address = await app.listen({ host: config.server.host, port: config.server.port })
    const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1')
    const running = services
    return {
      url,
      app,
      services: running,
      config,
      exporter: sink,
      ...(clickhouseHttp ? { clickhouseHttp } : {}),
      ...(generatedAdminKey ? { generatedAdminKey } : {}),
      async close() {
        await drain(app, config.server.shutdown_timeout)
        await sink.shutdown()
        await clickhouseHttp?.close()
        await running.close()
        await warehouse.close()
      },
    }
  } catch (err) {
    await clickhouseHttp?.close().catch(() => {})
    await exporter?.shutdown().catch(() => {})
    await services?.close().catch(() => {})
    await warehouse.close().catch(() => {})
    throw err
  }
}

/**
 * Stops accepting connections and lets in-flight requests finish; streams still running after `timeoutMs`
 * are cut (their exchanges still finish and are recorded).
 */
async function drain(app: FastifyInstance, timeoutMs: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), timeoutMs)
  try {
    await app.close()
  } finally {
    clearTimeout(timer)
  }
}
