import { loadConfig, ConfigError } from './config.ts'
import { ensureSecrets } from './secrets.ts'
import { openWarehouse } from './warehouse/index.ts'
import { startGateway } from './server.ts'

/** Command line: `start` (default) runs the gateway, `migrate` applies ClickHouse migrations and exits. */
async function main(command = 'start'): Promise<void> {
  const config = loadConfig()
  if (command === 'migrate') {
    const warehouse = openWarehouse(ensureSecrets(config).config)
    try {
      const applied = await warehouse.migrate((m) => console.log(m))
      console.log(applied.length ? `${applied.length} migration(s) applied` : 'schema is up to date')
    } finally {
      await warehouse.close()
    }
    return
  }
  if (command !== 'start') throw new ConfigError([`unknown command "${command}": use start or migrate`])

  const gateway = await startGateway(config, { logLevel: process.env.CCPROXY_LOG_LEVEL ?? 'info' })
  const log = gateway.app.log
  log.info({ url: gateway.url, clickhouse: gateway.services.warehouse.kind }, 'ccproxy is listening')
  if (gateway.clickhouseHttp) log.info({ url: gateway.clickhouseHttp.url }, 'ClickHouse HTTP interface (embedded engine)')
  if (gateway.generatedAdminKey) {
    // Printed once, on the start that generated it; it stays in the data directory.
    console.log(
      [
        '',
        `  Admin key (generated, saved in ${config.data_dir}/admin.key):`,
        `    ${gateway.generatedAdminKey}`,
        '  Use it in the X-Admin-Key header, e.g. to mint a client token:',
        `    curl -s -X POST ${gateway.url}/api/token/generate -H 'X-Admin-Key: <key>' -H 'content-type: application/json' -d '{"name":"alice"}'`,
        '',
      ].join('\n'),
    )
  }
  if (gateway.generatedClickHousePassword && gateway.clickhouseHttp) {
    const { http_user } = gateway.config.clickhouse.embedded
    console.log(
      [
        '',
        `  ClickHouse HTTP interface ${gateway.clickhouseHttp.url} — user ${http_user}, password (generated, saved in ${config.data_dir}/clickhouse.password):`,
        `    ${gateway.generatedClickHousePassword}`,
        `    curl -u ${http_user}:<password> '${gateway.clickhouseHttp.url}/?query=SELECT+count()+FROM+${gateway.config.clickhouse.database}.request_logs'`,
        '',
      ].join('\n'),
    )
  }
  if (gateway.services.pool.accounts.length === 0) {
    log.warn('no upstream accounts: set claude.api_keys (CCPROXY_CLAUDE_API_KEYS) or POST /api/account/apikey')
  }

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    gateway.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main(process.argv[2]).catch((err) => {
  // A clear line for what the operator must fix; the stack only when asked for.
  console.error(err instanceof ConfigError ? err.message : `ccproxy cannot start: ${(err as Error).message ?? err}`)
  if (!(err instanceof ConfigError) && process.env.CCPROXY_LOG_LEVEL === 'debug') console.error(err)
  process.exit(1)
})
