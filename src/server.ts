import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import { ensureSecrets } from './secrets.ts'
import { openWarehouse, type Warehouse } from './warehouse/index.ts'
import { startHttpInterface, type HttpInterface } from './warehouse/embedded/http-interface.ts'
import { buildApp, createServices, type Services } from './app.ts'
import type { Exchange } from './record/exchange.ts'

export interface RunningGateway {
  url: string
  app: FastifyInstance
  services: Services
  config: Config
  /** ClickHouse's HTTP interface over the embedded engine, when it is on */
  clickhouseHttp?: HttpInterface
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
  opts: { logger?: FastifyServerOptions['logger']; onExchange?: (exchange: Exchange) => void } = {},
): Promise<RunningGateway> {
  const { config, generatedAdminKey } = ensureSecrets(configIn)
  const warehouse: Warehouse = openWarehouse(config)
  let services: Services | undefined
  let clickhouseHttp: HttpInterface | undefined
  try {
    await warehouse.migrate()
    const logger = opts.logger ?? false
    const log = (err: unknown) => {
      if (logger) console.error('ccproxy:', (err as Error)?.message ?? err)
    }
    services = createServices(config, warehouse, log)
    await services.accounts.reload()
    services.accounts.watch(30_000)
    const app = buildApp(services, { logger, ...(opts.onExchange ? { onExchange: opts.onExchange } : {}) })
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
      ...(clickhouseHttp ? { clickhouseHttp } : {}),
      ...(generatedAdminKey ? { generatedAdminKey } : {}),
      async close() {
        await app.close()
        await clickhouseHttp?.close()
        await running.close()
        await warehouse.close()
      },
    }
  } catch (err) {
    await clickhouseHttp?.close().catch(() => {})
    await services?.close().catch(() => {})
    await warehouse.close().catch(() => {})
    throw err
  }
}
