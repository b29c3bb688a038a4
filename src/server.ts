import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createLogger } from './logging.ts'
import type { Config } from './config.ts'
import { ensureReaderPassword, ensureSecrets } from './secrets.ts'
import { openWarehouse, type Warehouse } from './warehouse/index.ts'
import { startHttpInterface, type HttpInterface } from './warehouse/embedded/http-interface.ts'
import { buildApp, createServices, type Services } from './app.ts'
import type { Exchange } from './record/exchange.ts'
import type { RequestRecord } from './record/request-record.ts'
import { toRecord } from './record/build.ts'
import { Redactor } from './record/redaction.ts'
import { ClickHouseExporter } from './sinks/exporter.ts'
import { Tracing } from './sinks/tracing.ts'
import { GatewayMetrics } from './sinks/metrics.ts'

export interface RunningGateway {
  url: string
  app: FastifyInstance
  services: Services
  config: Config
  /** ClickHouse's HTTP interface over the embedded engine, when it is on */
  clickhouseHttp?: HttpInterface
  exporter: ClickHouseExporter
  tracing: Tracing
  metrics: GatewayMetrics
  generatedAdminKey?: string
  /** the embedded HTTP interface's password, when it was generated on this start */
  generatedClickHousePassword?: string
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
  const secrets = ensureSecrets(configIn)
  const { generatedAdminKey } = secrets
  const embeddedHttp = !configIn.clickhouse.url && configIn.clickhouse.embedded.http_port > 0
  const reader = embeddedHttp ? ensureReaderPassword(secrets.config) : { config: secrets.config }
  const { config } = reader
  const logger = createLogger(opts.logLevel ?? 'silent')
  for (const warning of secrets.warnings) logger.warn(warning)
  const log = (err: unknown) => logger.error({ err }, (err as Error)?.message ?? String(err))
  const warehouse: Warehouse = openWarehouse(config)
  const tracing = Tracing.create(config.otel, process.env, logger.child({ component: 'otel' }))
  let services: Services | undefined
  let clickhouseHttp: HttpInterface | undefined
  let exporter: ClickHouseExporter | undefined
  try {
    await warehouse.migrate()
    services = createServices(config, warehouse, log, tracing)
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
    const sink = exporter
    const { pool } = services
    const metrics = new GatewayMetrics({
      tokenLabels: config.metrics.token_labels,
      accounts: () => pool.accounts.map((a) => ({ id: a.id, up: pool.health(a.id).status === 'healthy' })),
      exporter: () => sink.stats(),
    })
    // Before start(): the replay of an earlier run's spool is timed too.
    sink.onBatch = (b) => metrics.batch(b)
    await exporter.start()
    const redactor = Redactor.fromConfig(config)
    // Runs when a response is over; the client has its answer already. The record is built once and each
    // sink projects it; one sink failing never starves the others nor throws into the request.
    const each = (f: () => void) => {
      try {
        f()
      } catch (err) {
        log(err)
      }
    }
    const onExchange = (exchange: Exchange) => {
      let record: RequestRecord
      try {
        record = toRecord(exchange, redactor)
      } catch (err) {
        return log(err)
      }
      each(() => sink.enqueue(record))
      each(() => tracing.end(exchange, record))
      each(() => metrics.observe(record))
      if (opts.onExchange) each(() => opts.onExchange!(exchange, record))
    }
    const app = buildApp(services, { logger, onExchange, exporter: sink, metrics })
    if (warehouse.engine && embeddedHttp) {
      const embedded = config.clickhouse.embedded
      clickhouseHttp = await portOf('clickhouse.embedded.http_port', embedded.http_port, () =>
        startHttpInterface(warehouse.engine!, {
          host: '127.0.0.1',
          port: embedded.http_port,
          readonly: embedded.http_readonly,
          user: embedded.http_user,
          password: embedded.http_password,
          bodyLimit: embedded.http_body_limit,
        }),
      )
    }
    const address = await portOf('server.port', config.server.port, () => app.listen({ host: config.server.host, port: config.server.port }))
    const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1')
    const running = services
    return {
      url,
      app,
      services: running,
      config,
      exporter: sink,
      tracing,
      metrics,
      ...(clickhouseHttp ? { clickhouseHttp } : {}),
      ...(generatedAdminKey ? { generatedAdminKey } : {}),
      ...(reader.generatedPassword ? { generatedClickHousePassword: reader.generatedPassword } : {}),
      async close() {
        await drain(app, config.server.shutdown_timeout)
        await sink.shutdown()
        await tracing.shutdown()
        await clickhouseHttp?.close()
        await running.close()
        await warehouse.close()
      },
    }
  } catch (err) {
    await clickhouseHttp?.close().catch(() => {})
    await exporter?.shutdown().catch(() => {})
    await tracing.shutdown()
    await services?.close().catch(() => {})
    await warehouse.close().catch(() => {})
    throw err
  }
}

/** A port that is taken is one line naming the key and the environment variable that move it. */
async function portOf<T>(key: string, port: number, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    const env = `CCPROXY_${key.replace(/\./g, '_').toUpperCase()}`
    throw new Error(`port ${port} is already in use: set ${key} (${env}) to a free port`, { cause: err })
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
