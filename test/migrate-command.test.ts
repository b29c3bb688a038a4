import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// `npm run migrate` is `node --import tsx src/main.ts migrate`.
const CLI = [process.execPath, '--import', 'tsx', 'src/main.ts'] as const

describe('npm run migrate beside a running embedded gateway', () => {
  it('says the engine is in use by the gateway and what to do, in one line, and works once the gateway is gone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-migrate-busy-'))
    const env = { ...process.env, CCPROXY_DATA_DIR: dataDir, CCPROXY_SERVER_PORT: '0', CCPROXY_SERVER_HOST: '127.0.0.1', CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: '0', CCPROXY_CONFIG: 'config.yaml' }
    const gateway = spawn(CLI[0], [...CLI.slice(1), 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    gateway.stdout.on('data', (d) => (output += d))
    gateway.stderr.on('data', (d) => (output += d))
    const exited = new Promise<number | null>((resolve) => gateway.once('exit', resolve))
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start within 20s:\n${output}`)), 20_000)
        gateway.stdout.on('data', () => output.includes('ccproxy is listening') && (clearTimeout(timer), resolve()))
        void exited.then((code) => reject(new Error(`exited ${code}:\n${output}`)))
      })
      const busy = spawnSync(CLI[0], [...CLI.slice(1), 'migrate'], { env, encoding: 'utf8' })
      expect(busy.status).toBe(1)
      // the engine's own refusal may come first ("Cannot lock file …/status"); ours is the last line
      expect(busy.stderr.trim().split('\n').at(-1)).toBe(
        `ccproxy migrate: the embedded ClickHouse engine in ${join(dataDir, 'clickhouse')} is in use by a running process (pid ${gateway.pid}), most likely a gateway, ` +
          'which applies migrations itself at start-up: stop it first, or point clickhouse.url (CCPROXY_CLICKHOUSE_URL) at a ClickHouse server',
      )
    } finally {
      gateway.kill('SIGTERM')
      await exited
    }
    const free = spawnSync(CLI[0], [...CLI.slice(1), 'migrate'], { env, encoding: 'utf8' })
    expect(free.stderr).toBe('')
    expect(free.status).toBe(0)
    expect(free.stdout).toContain('schema is up to date')
  }, 60_000)
})
