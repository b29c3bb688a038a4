import { constants } from 'node:os'
import { loadConfig, ConfigError } from './config.ts'
import { startGateway } from './server.ts'
import { migrateCommand } from './migrate-command.ts'
import { stdoutDestination } from './logging.ts'

// The banners go out on the log's own channel, so they keep their place among its lines.
const stdout = stdoutDestination()
const print = (text: string) => stdout.write(text + '\n')

/** Command line: `start` (default) runs the gateway, `migrate` applies ClickHouse migrations and exits. */
async function main(command = 'start'): Promise<void> {
  const config = loadConfig()
  if (command === 'migrate') return migrateCommand(config)
  if (command !== 'start') throw new ConfigError([`unknown command "${command}": use start or migrate`])

  const gateway = await startGateway(config, { logLevel: process.env.CCPROXY_LOG_LEVEL ?? 'info' })
  const log = gateway.app.log
  if (gateway.generatedAdminKey) {
    // Printed once, on the start that generated it; it stays in the data directory.
    print(
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
    print(
      [
        '',
        `  ClickHouse HTTP interface ${gateway.clickhouseHttp.url} — user ${http_user}, password (generated, saved in ${config.data_dir}/clickhouse.password):`,
        `    ${gateway.generatedClickHousePassword}`,
        `    curl -u ${http_user}:<password> '${gateway.clickhouseHttp.url}/?query=SELECT+count()+FROM+${gateway.config.clickhouse.database}.request_logs'`,
        '',
      ].join('\n'),
    )
  }
  // Last: whoever waits for this line (a test, a supervisor) has the banners above it already.
  if (gateway.clickhouseHttp) log.info({ url: gateway.clickhouseHttp.url }, 'ClickHouse HTTP interface (embedded engine)')
  log.info({ url: gateway.url, clickhouse: gateway.services.warehouse.kind }, 'ccproxy is listening')

  // First signal: a graceful shutdown within server.shutdown_timeout + server.shutdown_grace, exit 0 (1 if a
  // step failed or overran). Second: spool what is queued and exit at once, 128 + the signal's number as a
  // shell reports a death by signal (130 SIGINT, 143 SIGTERM). Third: exit without waiting for the spool.
  let signals = 0
  const stop = (signal: 'SIGTERM' | 'SIGINT') => {
    const killed = 128 + constants.signals[signal]
    signals++
    if (signals === 1) {
      log.info({ signal }, 'shutting down')
      gateway.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed')
          process.exit(1)
        },
      )
    } else if (signals === 2) {
      log.warn({ signal }, 'second signal: spooling what is queued and exiting now')
      gateway.abort().finally(() => process.exit(killed))
    } else {
      process.exit(killed)
    }
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
