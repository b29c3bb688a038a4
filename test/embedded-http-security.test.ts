import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import Anthropic from '@anthropic-ai/sdk'
import { ClickHouseLogLevel, createClient } from '@clickhouse/client'
import { loadConfig } from '../src/config.ts'
import { startTestGateway, type TestGateway } from './support/gateway.ts'

// The hostile trial against the embedded engine's HTTP interface, run again: every way it found (and their
// variants) to read or write a file, reach the network, outlive the limits or skip the credentials.
// This file runs in a process of its own, so its gateway's database is the one the engine was opened for.

let gw: TestGateway
let base: string
let auth: string
let canary: { path: string; text: string }
let adminKey: string
let jwtSecret: string
let listener: net.Server
let listenerHits = 0
let listenerPort: number
const written = (name: string) => join(gw.gateway.config.data_dir, name)

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as net.AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

/** A raw request to the interface; GET puts the SQL in `query`, POST in the body. */
function ch(
  sql: string,
  opts: { method?: 'GET' | 'POST'; params?: Record<string, string>; headers?: Record<string, string>; credentials?: boolean; body?: Buffer } = {},
): Promise<{ status: number; code: string | undefined; text: string }> {
  const method = opts.method ?? 'POST'
  const q = new URLSearchParams(opts.params ?? {})
  if (method === 'GET') q.set('query', sql)
  const headers: Record<string, string> = { ...(opts.credentials === false ? {} : { authorization: auth }), ...opts.headers }
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/?${q}`, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, code: res.headers['x-clickhouse-exception-code'] as string | undefined, text: Buffer.concat(chunks).toString('utf8') }),
      )
    })
    req.on('error', reject)
    req.end(method === 'POST' ? (opts.body ?? sql) : undefined)
  })
}

/** Runs `sql` by GET and by POST; neither may succeed nor let a secret out. */
async function refused(sql: string, params: Record<string, string> = {}): Promise<Array<{ status: number; code: string | undefined; text: string }>> {
  const answers = [await ch(sql, { method: 'GET', params }), await ch(sql, { method: 'POST', params })]
  for (const a of answers) {
    expect(a.status, `${sql} ${JSON.stringify(params)} → ${a.text}`).toBeGreaterThanOrEqual(400)
    for (const secret of [canary.text, adminKey, jwtSecret]) expect(a.text).not.toContain(secret)
  }
  return answers
}

beforeAll(async () => {
  listener = net.createServer((s) => {
    listenerHits++
    s.destroy()
  })
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r))
  listenerPort = (listener.address() as net.AddressInfo).port
  const httpPort = await freePort()
  gw = await startTestGateway({
    clickhouse: {
      embedded: { http_port: httpPort, http_readonly: true, reader_limits: { max_execution_time: 2, function_sleep_max_microseconds_per_block: 1_000_000 } },
    },
  })
  const embedded = gw.gateway.config.clickhouse.embedded
  base = gw.gateway.clickhouseHttp!.url
  auth = `Basic ${Buffer.from(`${embedded.http_user}:${embedded.http_password}`).toString('base64')}`
  adminKey = gw.gateway.config.admin.key
  jwtSecret = gw.gateway.config.jwt.secret
  canary = { path: written('canary.txt'), text: `CANARY-${Math.random().toString(36).slice(2)}` }
  writeFileSync(canary.path, canary.text)
  // an account with stored (sealed) credentials
  const added = await gw.admin('POST', '/api/account/apikey', { name: 'stored', api_key: 'sk-ant-api03-stored-secret-key-0000000000' })
  expect(added.status, JSON.stringify(added.body)).toBe(200)
})
afterAll(async () => {
  await gw?.close()
  listener?.close()
})

describe('credentials', () => {
  it('are generated on first start into the data directory, mode 0600, at least 16 characters', () => {
    const file = written('clickhouse.password')
    expect(readFileSync(file, 'utf8').trim()).toBe(gw.gateway.config.clickhouse.embedded.http_password)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(gw.gateway.config.clickhouse.embedded.http_password.length).toBeGreaterThanOrEqual(16)
    expect(gw.gateway.generatedClickHousePassword).toBe(gw.gateway.config.clickhouse.embedded.http_password)
  })

  it('are required for every query, GET or POST, and checked as ClickHouse checks them', async () => {
    const { http_user: user, http_password: password } = gw.gateway.config.clickhouse.embedded
    for (const method of ['GET', 'POST'] as const) {
      const none = await ch('SELECT 1', { method, credentials: false })
      expect([none.status, none.code]).toEqual([401, '194'])
      const wrong = await ch('SELECT 1', { method, headers: { authorization: `Basic ${Buffer.from(`${user}:nope`).toString('base64')}` } })
      expect([wrong.status, wrong.code]).toEqual([403, '516'])
      const otherUser = await ch('SELECT 1', { method, headers: { authorization: `Basic ${Buffer.from(`default:${password}`).toString('base64')}` } })
      expect(otherUser.status).toBe(403)
      expect((await ch('SELECT 1', { method })).text).toBe('1\n')
      expect((await ch('SELECT 2', { method, credentials: false, headers: { 'x-clickhouse-user': user, 'x-clickhouse-key': password } })).text).toBe('2\n')
      expect((await ch('SELECT 3', { method, credentials: false, params: { user, password } })).text).toBe('3\n')
    }
    // health checks stay open, as on a server
    expect((await fetch(`${base}/ping`)).status).toBe(200)
  })

  it('are what @clickhouse/client (and Grafana) connect with', async () => {
    const { http_user: username, http_password: password } = gw.gateway.config.clickhouse.embedded
    const client = createClient({ url: base, username, password, database: gw.gateway.config.clickhouse.database, log: { level: ClickHouseLogLevel.OFF } })
    try {
      const rs = await client.query({ query: 'SELECT count() AS n FROM tokens WHERE id != {x:String}', query_params: { x: "o'neil" }, format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([{ n: expect.anything() }])
      const bad = createClient({ url: base, username, password: 'wrong-password-000000', log: { level: ClickHouseLogLevel.OFF } })
      await expect(bad.query({ query: 'SELECT 1' })).rejects.toMatchObject({ code: '516' })
      await bad.close()
    } finally {
      await client.close()
    }
  })
})

describe('no query reads a file', () => {
  const spellings = (fn: string) => [fn, fn.toUpperCase(), `\`${fn}\``, `"${fn}"`, `“${fn}”`, `${fn} /* c */`, `${fn}\n`]

  it('through format settings, in the SQL or in the URL', async () => {
    await refused(`SELECT 1 FORMAT Template SETTINGS format_template_resultset='${canary.path}'`)
    await refused(`select 1 format Template settings FORMAT_TEMPLATE_RESULTSET = '${canary.path}'`)
    await refused('SELECT 1 FORMAT Template', { format_template_resultset: canary.path })
    await refused('SELECT 1 FORMAT Template', { format_template_row: canary.path })
    await refused(`SELECT 1 FORMAT CapnProto SETTINGS format_schema='${canary.path}:Message'`)
    await refused(`SELECT 1 FORMAT Template SETTINGS format_template_resultset = DEFAULT, format_template_row='${canary.path}'`)
  })

  it('through file(), the table function or the scalar, however it is spelled', async () => {
    for (const name of spellings('file')) {
      await refused(`SELECT * FROM ${name}('${canary.path}', 'LineAsString')`)
      await refused(`SELECT ${name}('${canary.path}')`)
      await refused(`SELECT ${name}({p:String})`, { param_p: canary.path })
    }
    await refused(`SELECT arrayMap(x -> file(x), ['${canary.path}'])`)
    await refused(`WITH '${canary.path}' AS p SELECT file(p)`)
    await refused(`SELECT * FROM fileCluster('default', '${canary.path}', 'LineAsString')`)
    await refused(`SELECT * FROM executable('/bin/cat ${canary.path}', 'LineAsString', 'l String')`)
    await refused(`CREATE TEMPORARY TABLE t (l String) ENGINE = File(LineAsString, '${canary.path}')`)
    await refused(`SELECT 1; SELECT file('${canary.path}')`)
    await refused(`INSERT INTO FUNCTION null('l String') FROM INFILE '${canary.path}' FORMAT LineAsString`)
  })

  it('nor reads the secrets of the data directory or the environment', async () => {
    for (const file of ['admin.key', 'jwt.secret', 'clickhouse.password']) {
      await refused(`SELECT * FROM file('${written(file)}', 'LineAsString')`)
      await refused(`SELECT file('${written(file)}')`)
    }
    await refused("SELECT file('/proc/self/environ')")
  })
})

describe('no query writes a file or reaches the network', () => {
  it('refuses format schemas, INTO OUTFILE and table engines that write', async () => {
    const target = written('pwned')
    await refused(`SELECT toUInt8(1) AS y FORMAT Protobuf SETTINGS output_format_schema='${target}'`)
    await refused('SELECT toUInt8(1) AS y FORMAT Protobuf', { output_format_schema: target })
    await refused(`SELECT 1 INTO OUTFILE '${target}'`)
    await refused(`select 1 into /* x */ outfile '${target}' TRUNCATE`)
    await refused(`SELECT 1 INTO OUTFILE '${target}' AND STDOUT FORMAT CSV`)
    await refused(`INSERT INTO FUNCTION file('${target}', 'CSV') SELECT 1`)
    await refused(`BACKUP TABLE tokens TO File('${target}')`)
    expect(existsSync(target)).toBe(false)
    expect(existsSync(`${target}.proto`)).toBe(false)
  })

  it('refuses url(), remote() and the other network table functions', async () => {
    const url = `http://127.0.0.1:${listenerPort}/`
    for (const name of ['url', '`url`', '“url”', 'URL']) await refused(`SELECT * FROM ${name}('${url}', 'LineAsString')`)
    await refused(`INSERT INTO FUNCTION url('${url}', 'LineAsString', 'l String') SELECT 'x'`)
    await refused(`SELECT * FROM remote('127.0.0.1:${listenerPort}', system.one)`)
    await refused(`SELECT * FROM s3('${url}my-bucket/k.csv', 'LineAsString')`)
    await refused(`SELECT * FROM mysql('127.0.0.1:${listenerPort}', 'd', 't', 'u', 'p')`)
    await refused(`SELECT * FROM postgresql('127.0.0.1:${listenerPort}', 'd', 't', 'u', 'p')`)
    expect(listenerHits).toBe(0)
  })
})

describe('the reader stays a reader', () => {
  it('cannot write, whatever it tries, and DEFAULT does not reset readonly', async () => {
    const before = await gw.rows<{ n: string }>('SELECT count() AS n FROM tokens')
    await refused("INSERT INTO tokens (id) VALUES ('x')")
    await refused("INSERT INTO tokens SETTINGS readonly = DEFAULT VALUES ('x')")
    await refused("SET readonly = DEFAULT; INSERT INTO tokens (id) VALUES ('x')")
    await refused('SELECT 1', { readonly: '0' })
    await refused('SELECT 1 SETTINGS readonly = 0')
    await refused('DROP TABLE tokens')
    await refused('TRUNCATE TABLE tokens')
    await refused("ALTER TABLE tokens DELETE WHERE 1")
    await refused('KILL QUERY WHERE 1')
    await refused('SYSTEM STOP MERGES')
    await refused('CREATE TEMPORARY TABLE t (a UInt8) ENGINE = Memory')
    expect(await gw.rows('SELECT count() AS n FROM tokens')).toEqual(before)
  })

  it('cannot see account credentials', async () => {
    const db = gw.gateway.config.clickhouse.database
    expect(await gw.rows('SELECT count() AS n FROM account_credentials')).toEqual([{ n: '1' }])
    for (const sql of [
      `SELECT * FROM ${db}.account_credentials`,
      `SELECT * FROM merge('${db}', '^account_credentials$')`,
      `SELECT * FROM view(SELECT * FROM ${db}.account_credentials)`,
      `SELECT c.* FROM ${db}.accounts AS a LEFT JOIN ${db}.account_credentials AS c ON c.id = a.id WHERE c.id != ''`,
    ]) {
      const r = await ch(`${sql} FORMAT JSONEachRow`, { method: 'GET' })
      expect([r.status, r.text], sql).toEqual([200, ''])
    }
    // account names stay readable for dashboards
    expect((await ch(`SELECT name FROM ${db}.accounts FORMAT TSV`, { method: 'GET' })).text).toBe('stored\n')
  })

  it('runs with limits it can lower and never raise', async () => {
    expect((await ch("SELECT getSetting('max_execution_time'), getSetting('readonly')")).text).toBe('2\t2\n')
    expect((await ch("SELECT getSetting('max_execution_time') SETTINGS max_execution_time = 1")).text).toBe('1\n')
    for (const [name, value] of [
      ['max_execution_time', '0'],
      ['max_execution_time', '3'],
      ['max_result_rows', '0'],
      ['max_memory_usage', '0'],
      ['max_rows_to_read', '0'],
      ['function_sleep_max_microseconds_per_block', '20000000'],
    ]) {
      await refused('SELECT 1', { [name!]: value! })
      await refused(`SELECT 1 SETTINGS ${name} = ${value}`)
    }
    await refused('SELECT 1 SETTINGS max_execution_time = DEFAULT')
    const rows = await ch('SELECT number FROM numbers(20000000) FORMAT Null')
    expect(rows.text).toMatch(/TOO_MANY_ROWS_OR_BYTES/)
  })

  it('cannot stall the gateway: a sleeping reader stops at its time limit and client requests go on meanwhile', async () => {
    // The trial's exploit: parameters (the process-wide queue of parameterized queries), a sleep per row, and
    // settings that lift the sleep limit.
    await refused('SELECT sleepEachRow(1) FROM numbers(12) WHERE {x:UInt8}=1 SETTINGS max_block_size=1', {
      param_x: '1',
      function_sleep_max_microseconds_per_block: '20000000',
    })
    // Within the limits it sleeps, and is stopped at max_execution_time (2 s here).
    const { token } = await gw.mintToken()
    const started = Date.now()
    const sleeper = ch('SELECT sleepEachRow(1) FROM numbers(12) WHERE {x:UInt8}=1 SETTINGS max_block_size=1', { method: 'GET', params: { param_x: '1' } })
    await new Promise((r) => setTimeout(r, 300))
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: token, maxRetries: 0 })
    const t0 = Date.now()
    const msg = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
    const clientMs = Date.now() - t0
    expect(msg.type).toBe('message')
    // The gateway's own parameterized statements (admin lookups, a token not seen yet) wait in the queue the
    // sleeper would hold if its parameter were bound natively: they go on meanwhile too.
    const t1 = Date.now()
    const rs = await gw.gateway.services.warehouse.client.query({ query: 'SELECT {x:UInt8} AS x', query_params: { x: 7 }, format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ x: 7 }])
    const ownMs = Date.now() - t1
    const slept = await sleeper
    const sleptMs = Date.now() - started
    expect(slept.text).toMatch(/TIMEOUT_EXCEEDED/)
    expect(sleptMs).toBeLessThan(5_000)
    expect(clientMs).toBeLessThan(sleptMs - 300)
    expect(ownMs).toBeLessThan(sleptMs - 600)
  })
})

describe('the HTTP layer', () => {
  it('refuses what a browser sends on another site\'s behalf', async () => {
    const foreign: Array<Record<string, string>> = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: `http://localhost:${new URL(base).port}`, 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
    ]
    for (const headers of foreign) {
      const r = await ch('SELECT 1', { headers })
      expect([r.status, r.code], JSON.stringify(headers)).toEqual([403, '497'])
    }
    const same = await ch('SELECT 1', { headers: { origin: base, 'sec-fetch-site': 'same-origin' } })
    expect(same.text).toBe('1\n')
  })

  it('listens by default on a port of its own, not ClickHouse\'s 8123; a taken port names the key to change', async () => {
    expect(loadConfig({ file: 'config.yaml', env: {} }).clickhouse.embedded.http_port).not.toBe(8123)
    const taken = Number(new URL(base).port)
    // same engine directory: chdb opens one per process
    const path = join(gw.gateway.config.data_dir, 'clickhouse')
    await expect(startTestGateway({ clickhouse: { embedded: { path, http_port: taken } } })).rejects.toThrow(
      `port ${taken} is already in use: set clickhouse.embedded.http_port (CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT) to a free port`,
    )
  })

  it('bounds the body, compressed or not', async () => {
    const limit = gw.gateway.config.clickhouse.embedded.http_body_limit
    const big = await ch('', { body: Buffer.alloc(limit + 1, 0x20) })
    expect([big.status, big.code]).toEqual([413, '229'])
    const bomb = gzipSync(Buffer.alloc(limit * 2, 0x20))
    expect(bomb.length).toBeLessThan(limit / 100)
    const unzipped = await ch('', { body: bomb, headers: { 'content-encoding': 'gzip' } })
    expect([unzipped.status, unzipped.code]).toEqual([413, '229'])
    expect((await ch('', { body: gzipSync('SELECT 7'), headers: { 'content-encoding': 'gzip' } })).text).toBe('7\n')
  })
})
