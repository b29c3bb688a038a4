import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.ts'

/**
 * Which running process holds an embedded engine's data directory. The engine locks `<dir>/status` and
 * writes its process id there while it runs (a second process gets "Cannot lock file …/status"); the file
 * stays behind after a crash, so the id counts only if that process is alive.
 */
export function embeddedEngineHolder(dir: string): number | undefined {
  let status: string
  try {
    status = readFileSync(join(dir, 'status'), 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(/^PID: (\d+)$/m.exec(status)?.[1])
  if (!pid || pid === process.pid) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined
  }
}

/** What to do when the embedded engine cannot be opened because a running gateway has it; undefined otherwise. */
export function engineInUseAdvice(config: Pick<Config, 'clickhouse' | 'data_dir'>): string | undefined {
  if (config.clickhouse.url) return undefined
  // the directory openWarehouse opens
  const dir = config.clickhouse.embedded.path || join(config.data_dir, 'clickhouse')
  const pid = embeddedEngineHolder(dir)
  if (pid === undefined) return undefined
  return (
    `the embedded ClickHouse engine in ${dir} is in use by a running process (pid ${pid}), most likely a gateway, ` +
    'which applies migrations itself at start-up: stop it first, or point clickhouse.url (CCPROXY_CLICKHOUSE_URL) at a ClickHouse server'
  )
}
