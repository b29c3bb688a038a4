import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { createLogger } from './logging.ts'
import type { Config } from './config.ts'
import { ensureReaderPassword, ensureSecrets } from './secrets.ts'
import { openWarehouse, WarehouseUnreachableError, type Warehouse } from './warehouse/index.ts'
import { MigrationChangedError } from './warehouse/migrate.ts'
import { startHttpInterface, type HttpInterface } from './warehouse/embedded/http-interface.ts'
import { buildApp, createServices, type Services } from './app.ts'
import type { Exchange } from './record/exchange.ts'
import { describeChange } from './accounts/pool.ts'
import type { RequestRecord } from './record/request-record.ts'
import { toRecord } from './record/build.ts'
import { Redactor } from './record/redaction.ts'
import { ClickHouseExporter } from './sinks/exporter.ts'
import { Tracing } from './sinks/tracing.ts'
import { GatewayMetrics } from './sinks/metrics.ts'
import { interruptible } from './sinks/interruptible.ts'
import { Connections } from './http/drain.ts'
import { runSteps } from './shutdown.ts'
import { Startup } from './startup.ts'

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
  /**
   * Stops accepting, answers what is in flight (cut after server.shutdown_timeout), ends each keep-alive
   * connection as its response ends, flushes and closes everything; every step bounded by one deadline,
   * shutdown_timeout + shutdown_grace after the call. Rejects naming the steps that failed or overran.
   */
  close(): Promise<void>
  /**
   * Stops waiting (a second signal): cuts every connection, and spools instead of inserting what the
   * exporter holds. Resolves once that is on disk; the caller exits then.
   */
  abort(): Promise<void>
}

/**
 * Starts a gateway: secrets, warehouse (migrated), services, HTTP server, and in embedded mode the
 * ClickHouse HTTP interface. A ClickHouse server that does not answer yet does not stop it: it listens, not
 * ready, and brings the rest up in the background once ClickHouse answers (see startup.ts). `close()` stops accepting, lets in-flight requests finish, then releases
 * everything in reverse order, within a deadline.
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
  // Fired by abort(): the exporter's inserts give up and what it holds is spooled.
  const cutoff = new AbortController()
  try {
    services = createServices(config, warehouse, log, tracing)
    // An account's failures are logged when its condition changes, not once per request it fails.
    services.pool.onChange = (c) => logger[c.to === 'ok' ? 'info' : 'warn']({ account: c.name, account_id: c.id, from: c.from, to: c.to }, describeChange(c))
    exporter = new ClickHouseExporter(interruptible(warehouse.ingest, cutoff.signal), {
      bufferSize: config.logging.buffer_size,
      batchSize: config.logging.batch_size,
      bufferMaxBytes: config.logging.buffer_max_bytes,
      batchMaxBytes: config.logging.batch_max_bytes,
      flushIntervalMs: config.logging.flush_interval,
      workers: config.logging.workers,
      spoolDir: join(config.data_dir, 'spool'),
      spoolMaxBytes: config.logging.spool_max_bytes,
      // the rest of shutdown_grace is for spooling what is left and closing the rest
      shutdownTimeoutMs: config.server.shutdown_grace / 2,
      log: logger.child({ component: 'exporter' }),
    })
    const sink = exporter
    const { pool, tokens } = services
    const metrics = new GatewayMetrics({
      tokenLabels: config.metrics.token_labels,
      accounts: () => pool.accounts.map((a) => ({ id: a.id, up: pool.health(a.id).status === 'healthy' })),
      exporter: () => sink.stats(),
      tokenRetired: (id) => tokens.retired(id),
      maxLabelSets: config.metrics.max_label_sets,
    })
    // Before start(): the replay of an earlier run's spool is timed too.
    sink.onBatch = (b) => metrics.batch(b)
    // What needs ClickHouse. A server may not answer yet: the gateway then listens anyway, not ready, and
    // retries in the background; the embedded engine is in the process, so any failure stops start-up here.
    const parts = services
    const retry = warehouse.kind === 'server'
    const startup = new Startup(
      [
        { name: 'connect to ClickHouse and migrate', run: () => warehouse.migrate((message) => logger.info(message)) },
        { name: 'read the tokens', run: () => parts.tokens.start() },
        { name: 'read the accounts', run: () => parts.accounts.reload().then(() => parts.accounts.watch(30_000)).then(() => warnWithoutAccounts()) },
        // replays what an earlier run spooled
        { name: 'start the exporter', run: () => sink.start() },
      ],
      {
        retry,
        // a changed migration needs an operator, not another attempt
        fatal: (err) => err instanceof MigrationChangedError,
        describe: (step, err) => (err instanceof WarehouseUnreachableError ? 'ClickHouse is not reachable yet' : `could not ${step.name} yet`),
        log: logger,
      },
    )
    // Said once the stored accounts are read (a server-mode gateway may read them long after it listens).
    const warnWithoutAccounts = () => {
      if (parts.pool.accounts.length === 0) logger.warn('no upstream accounts: set claude.api_keys (CCPROXY_CLAUDE_API_KEYS) or POST /api/account/apikey')
    }
    if (!retry) await startup.first()
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
        record = toRecord(exchange, redactor, config.conversations.max_bytes)
      } catch (err) {
        return log(err)
      }
      each(() => sink.enqueue(record))
      each(() => tracing.end(exchange, record))
      each(() => metrics.observe(record))
      if (opts.onExchange) each(() => opts.onExchange!(exchange, record))
    }
    const app = buildApp(services, { logger, onExchange, exporter: sink, metrics, startup })
    const connections = new Connections(app.server)
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
          maxConcurrent: embedded.http_max_concurrent,
        }),
      )
    }
    const address = await portOf('server.port', config.server.port, () => app.listen({ host: config.server.host, port: config.server.port }))
    const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1')
    if (retry) {
      await startup.first().catch(async (err) => {
        await app.close()
        throw err
      })
    }
    const running = services
    const { shutdown_timeout, shutdown_grace } = config.server
    let closing: Promise<void> | undefined
    const shutDown = async () => {
      const latest = performance.now() + shutdown_timeout + shutdown_grace
      // No further start-up attempt (an attempt under way ends as the warehouse closes).
      void startup.stop()
      // Stops accepting now; what it waits for (a query under way, a keep-alive client) is bounded below.
      const httpClosed = clickhouseHttp?.close()
      httpClosed?.catch(() => {}) // awaited (and reported) as a step below
      const drained = await runSteps([{ name: 'answer the requests in flight', run: () => drain(app, connections, shutdown_timeout) }], latest)
      // Once the requests are over, the rest has shutdown_grace.
      const rest = await runSteps(
        [
          { name: 'flush the exporter', run: () => sink.shutdown() },
          { name: 'flush tracing', run: () => tracing.shutdown() },
          { name: 'flush token usage and close services', run: () => running.close() },
          { name: 'close the ClickHouse HTTP interface', run: async () => httpClosed },
          { name: 'close the warehouse', run: () => warehouse.close() },
        ],
        Math.min(latest, performance.now() + shutdown_grace),
      )
      const outcomes = [...drained, ...rest]
      const steps = Object.fromEntries(outcomes.map((o) => [o.name, `${o.outcome} ${Math.round(o.ms)} ms`]))
      const unfinished = outcomes.filter((o) => o.outcome !== 'done')
      if (unfinished.length === 0) return logger.info({ steps }, 'shutdown complete')
      for (const o of unfinished) if (o.outcome === 'failed') logger.error({ err: o.error }, `shutdown: ${o.name} failed`)
      throw new Error(`shutdown incomplete within server.shutdown_timeout + server.shutdown_grace: ${unfinished.map((o) => `${o.name} ${o.outcome}`).join(', ')}`)
    }
    const close = () => (closing ??= shutDown())
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
      close,
      async abort() {
        close().catch(() => {}) // stops accepting, if no signal did yet; its outcome no longer matters
        cutoff.abort(new Error('shutdown: a second signal, spooling instead of waiting for ClickHouse'))
        connections.cut()
        await runSteps(
          [
            { name: 'record the requests cut', run: () => connections.settled() },
            // records of responses that ended after the exporter stopped went to its overflow: flushed too
            { name: 'spool the queue', run: () => sink.shutdown().then(() => sink.forceFlush()) },
          ],
          performance.now() + shutdown_grace,
        )
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
 * Stops accepting connections and lets in-flight requests finish, closing each connection as its response
 * ends (idle ones at once); streams still running after `timeoutMs` are cut (their exchanges still finish
 * and are recorded). Resolves once every response is over and recorded.
 */
async function drain(app: FastifyInstance, connections: Connections, timeoutMs: number): Promise<void> {
  const timer = setTimeout(() => connections.cut(), timeoutMs)
  try {
    const closed = app.close()
    connections.closing()
    await closed
    await connections.settled()
  } finally {
    clearTimeout(timer)
  }
}
