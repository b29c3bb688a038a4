import type { Config } from './config.ts'
import { ensureSecrets } from './secrets.ts'
import { openWarehouse, type Warehouse } from './warehouse/index.ts'
import { engineInUseAdvice } from './warehouse/engine-in-use.ts'

/** `npm run migrate`: applies the ClickHouse migrations and exits; a failure is one line on stderr and exit code 1. */
export async function migrateCommand(config: Config): Promise<void> {
  const ready = ensureSecrets(config).config
  let warehouse: Warehouse
  try {
    warehouse = openWarehouse(ready)
  } catch (err) {
    return fail(engineInUseAdvice(ready) ?? (err as Error).message)
  }
  try {
    const applied = await warehouse.migrate((m) => console.log(m))
    console.log(applied.length ? `${applied.length} migration(s) applied` : 'schema is up to date')
  } catch (err) {
    fail((err as Error).message)
  } finally {
    await warehouse.close()
  }
}

function fail(message: string): void {
  console.error(`ccproxy migrate: ${message}`)
  process.exitCode = 1
}
