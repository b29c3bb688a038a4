import { describe, expect, it, onTestFinished } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, statSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The command line as a user runs it: `npm start` is `node --import tsx src/main.ts start` (the gateway is
// the node process itself, so a signal reaches it directly).
const GATEWAY = [process.execPath, '--import', 'tsx', 'src/main.ts'] as const

function start(env: Record<string, string>) {
  const child = spawn(GATEWAY[0], [...GATEWAY.slice(1), 'start'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  // a test that fails before it stops its gateway must not leave it running
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 20s:\n${output}`)), 20_000)
    child.stdout.on('data', () => {
      const m = /"url":"(http:\/\/[^"]+)","clickhouse"/.exec(output)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)))
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, listening, exited, output: () => output }
}

describe('npm start on a fresh data directory', () => {
  it('generates and keeps secrets, prints the admin key once, serves, and exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-start-'))
    const env = { CCPROXY_DATA_DIR: dataDir, CCPROXY_SERVER_PORT: '0', CCPROXY_SERVER_HOST: '127.0.0.1', CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: '0', CCPROXY_CONFIG: 'config.yaml' }

    const first = start(env)
    const url = await first.listening
    const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim()
    expect(first.output()).toContain(adminKey)
    expect(first.output()).toContain('X-Admin-Key')
    expect(statSync(join(dataDir, 'admin.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(dataDir, 'jwt.secret')).mode & 0o777).toBe(0o600)
    expect((await fetch(`${url}/ready`)).status).toBe(200)
    // read the stored accounts: there are none
    expect(first.output()).toContain('no upstream accounts: set claude.api_keys')
    const minted = await fetch(`${url}/api/token/generate`, { method: 'POST', headers: { 'x-admin-key': adminKey, 'content-type': 'application/json' }, body: '{"name":"first"}' })
    expect(minted.status).toBe(200)
    const { token } = (await minted.json()) as { token: string }
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)

    // a restart keeps the secrets: the key is not printed again and the token minted before still works
    const second = start(env)
    const url2 = await second.listening
    expect(second.output()).not.toContain(adminKey)
    const info = await fetch(`${url2}/api/token/info`, { headers: { authorization: `Bearer ${token}` } })
    expect(info.status).toBe(200)
    second.child.kill('SIGINT')
    expect(await second.exited).toBe(0)
  }, 60_000)

  it('stops on SIGTERM when whoever read its log has gone (a closed stdout does not hang the exit)', async () => {
    const run = start({ CCPROXY_DATA_DIR: mkdtempSync(join(tmpdir(), 'ccproxy-nolog-')), CCPROXY_SERVER_PORT: '0', CCPROXY_SERVER_HOST: '127.0.0.1', CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: '0', CCPROXY_CONFIG: 'config.yaml' })
    const url = await run.listening
    expect((await fetch(`${url}/health`)).status).toBe(200)
    run.child.stdout.destroy()
    run.child.stderr.destroy()
    run.child.kill('SIGTERM')
    const code = await Promise.race([run.exited, new Promise<string>((r) => setTimeout(() => r('still running after 10 s'), 10_000))])
    if (code === 'still running after 10 s') run.child.kill('SIGKILL')
    expect(code).toBe(0)
  }, 40_000)

  it('stops with one line per invalid setting', () => {
    const res = spawnSync(GATEWAY[0], [...GATEWAY.slice(1), 'start'], {
      env: { ...process.env, CCPROXY_SERVER_PORT: 'eighty', CCPROXY_CLAUDE_KEY_STRATEGY: 'fastest' },
      encoding: 'utf8',
    })
    expect(res.status).toBe(1)
    expect(res.stderr).toContain('invalid configuration:')
    expect(res.stderr).toMatch(/server\.port = "eighty"/)
    expect(res.stderr).toMatch(/claude\.key_strategy = "fastest": .*round_robin/)
  })

  it('refuses to start on a blank admin.key file or a short CCPROXY_ADMIN_KEY, in one line', async () => {
    // an empty admin.key used to let in every request whose X-Admin-Key was empty
    const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-blank-'))
    writeFileSync(join(dataDir, 'admin.key'), '\n', { mode: 0o600 })
    const refused = async (env: Record<string, string>) => {
      const run = start({ CCPROXY_DATA_DIR: dataDir, CCPROXY_SERVER_HOST: '127.0.0.1', CCPROXY_SERVER_PORT: '0', CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: '0', ...env })
      // a gateway that starts anyway is stopped, and exits 0 instead of 1
      run.listening.then(() => run.child.kill('SIGTERM'), () => {})
      return { code: await run.exited, output: run.output().trim() }
    }
    const blank = await refused({})
    expect(blank.code).toBe(1)
    expect(blank.output).toBe(
      `ccproxy cannot start: ${join(dataDir, 'admin.key')} is empty: it must be at least 16 characters; delete the file to have one generated, or set admin.key (CCPROXY_ADMIN_KEY)`,
    )
    const short = await refused({ CCPROXY_ADMIN_KEY: 'letmein' })
    expect(short.code).toBe(1)
    expect(short.output).toBe(
      'ccproxy cannot start: admin.key (CCPROXY_ADMIN_KEY) is 7 characters long: it must be at least 16 characters; leave it unset to have one generated into <data_dir>/admin.key',
    )
  }, 60_000)

  it('keeps running, not ready, when the configured ClickHouse server cannot be reached, and says so in one log line', async () => {
    const run = start({
      CCPROXY_DATA_DIR: mkdtempSync(join(tmpdir(), 'ccproxy-dead-')),
      CCPROXY_CLICKHOUSE_URL: 'http://127.0.0.1:9',
      CCPROXY_SERVER_HOST: '127.0.0.1',
      CCPROXY_SERVER_PORT: '0',
      CCPROXY_CONFIG: 'config.yaml',
    })
    const url = await run.listening
    expect((await fetch(`${url}/health`)).status).toBe(200)
    const ready = await fetch(`${url}/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'not ready', reason: 'ClickHouse is not reachable yet' })
    await new Promise((r) => setTimeout(r, 1000)) // a few retries fail meanwhile
    const waiting = run.output().split('\n').filter((line) => line.includes('retries in the background'))
    expect(waiting).toHaveLength(1) // once, not once per attempt
    // the stored accounts are not read yet: no word about them
    expect(run.output()).not.toContain('no upstream accounts')
    expect(waiting[0]).toContain('connect to ClickHouse and migrate: ClickHouse at http://127.0.0.1:9 is not reachable: connect ECONNREFUSED 127.0.0.1:9')
    const stopping = performance.now()
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    expect(performance.now() - stopping).toBeLessThan(3000)
  }, 30_000)

  it('npm run migrate applies the schema once', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-migrate-'))
    const run = () => spawnSync(GATEWAY[0], [...GATEWAY.slice(1), 'migrate'], { env: { ...process.env, CCPROXY_DATA_DIR: dataDir }, encoding: 'utf8' })
    const first = run()
    expect(first.status).toBe(0)
    expect(first.stdout).toContain('applied migration 0001_tokens_accounts')
    const second = run()
    expect(second.status).toBe(0)
    expect(second.stdout).toContain('schema is up to date')
  }, 60_000)
})
