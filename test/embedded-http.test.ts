import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { ClickHouseLogLevel, createClient as createHttpClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { startHttpInterface, type HttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { clickhouseContract, expectClickHouseError } from './support/clickhouse-contract.ts'
import { AUTH_PARAMS, CLIENT_AUTH, HTTP_CREDENTIALS } from './support/embedded-http.ts'

// The client logs every failed request; these tests fail requests on purpose.
const createClient = (config: ClickHouseClientConfigOptions) => createHttpClient({ log: { level: ClickHouseLogLevel.OFF }, ...CLIENT_AUTH, ...config })

// chdb allows one data directory per process; vitest runs this file in a process of its own.
let engine: EmbeddedEngine
let rw: HttpInterface
let ro: HttpInterface
const clients: ClickHouseClient[] = []
const track = (c: ClickHouseClient) => (clients.push(c), c)

beforeAll(async () => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-embedded-http-')))
  rw = await startHttpInterface(engine, { port: 0, readonly: false, ...HTTP_CREDENTIALS })
  ro = await startHttpInterface(engine, { port: 0, readonly: true, ...HTTP_CREDENTIALS })
  const setup = track(createClient({ url: rw.url }))
  await setup.command({ query: 'CREATE DATABASE IF NOT EXISTS web' })
  await setup.command({ query: 'CREATE TABLE IF NOT EXISTS web.t (id UInt64, s String) ENGINE = MergeTree ORDER BY id' })
})
afterAll(async () => {
  for (const c of clients) await c.close()
  await ro?.close()
  await rw?.close()
  await engine?.close()
})

clickhouseContract('@clickhouse/client over the embedded HTTP interface', () => ({
  tag: 'http',
  connect: (database) => createClient({ url: rw.url, database }),
  report: (line) => console.log(line),
}))

/** A raw request, to see exactly what goes over the wire. */
function request(url: string, init: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers ?? {} }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

describe('embedded HTTP interface', () => {
  it('GET /?query=SELECT%201 with plain fetch returns 1\\n, in TabSeparated', async () => {
    const res = await fetch(`${rw.url}/?${AUTH_PARAMS}&query=SELECT%201`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('1\n')
    expect(res.headers.get('x-clickhouse-format')).toBe('TabSeparated')
    expect(res.headers.get('content-type')).toMatch(/^text\/tab-separated-values/)
    expect(res.headers.get('keep-alive')).toBe('timeout=10')
  })

  it('/ping and GET / answer Ok.; unknown paths are 404', async () => {
    for (const path of ['/ping', '/']) {
      const res = await fetch(rw.url + path)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('Ok.\n')
    }
    expect((await fetch(`${rw.url}/play`)).status).toBe(404)
    expect((await fetch(`${rw.url}/nope/?query=SELECT%201`)).status).toBe(404)
  })

  it('honours default_format, a FORMAT clause, and sends X-ClickHouse-Summary and the query id', async () => {
    const res = await fetch(`${rw.url}/?${AUTH_PARAMS}&default_format=JSONEachRow&query_id=q-123`, { method: 'POST', body: 'SELECT number AS n FROM system.numbers LIMIT 2' })
    expect(await res.text()).toBe('{"n":"0"}\n{"n":"1"}\n')
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.headers.get('x-clickhouse-query-id')).toBe('q-123')
    const summary = JSON.parse(res.headers.get('x-clickhouse-summary') ?? '{}') as Record<string, string>
    expect(Object.keys(summary).sort()).toEqual(['elapsed_ns', 'read_bytes', 'read_rows', 'result_bytes', 'result_rows', 'total_rows_to_read', 'written_bytes', 'written_rows'])
    expect(Object.values(summary).every((v) => typeof v === 'string')).toBe(true)
    expect(summary.result_rows).toBe('2')

    const csv = await fetch(`${rw.url}/?${AUTH_PARAMS}&default_format=JSONEachRow`, { method: 'POST', body: 'SELECT 1 AS a FORMAT CSVWithNames' })
    expect(await csv.text()).toBe('"a"\n1\n')
    expect(csv.headers.get('x-clickhouse-format')).toBe('CSVWithNames')
  })

  it('binds param_* values and applies URL settings, like a server', async () => {
    const q = new URLSearchParams({ param_s: "o\\'neil\\ttab", param_a: "['x','y\\'z']", max_result_rows: '9', query: "SELECT {s:String} AS s, {a:Array(String)} AS a, toString(getSetting('max_result_rows')) AS m FORMAT JSONEachRow" })
    const res = await fetch(`${rw.url}/?${AUTH_PARAMS}&${q}`)
    expect(JSON.parse(await res.text())).toEqual({ s: "o'neil\ttab", a: ['x', "y'z"], m: '9' })
  })

  it('reports errors with the exception code header, the text body and a server-like status', async () => {
    const unknown = await fetch(`${rw.url}/?${AUTH_PARAMS}&query=${encodeURIComponent('SELECT * FROM nowhere')}`)
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('x-clickhouse-exception-code')).toBe('60')
    expect(await unknown.text()).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\)/)
    const syntax = await fetch(`${rw.url}/?${AUTH_PARAMS}`, { method: 'POST', body: 'SELEC 1' })
    expect(syntax.status).toBe(400)
    expect(syntax.headers.get('x-clickhouse-exception-code')).toBe('62')
    const multi = await fetch(`${rw.url}/?${AUTH_PARAMS}`, { method: 'POST', body: 'SELECT 1; SELECT 2' })
    expect(multi.status).toBe(400)
    expect(await multi.text()).toMatch(/Multi-statements are not allowed/)
    const empty = await fetch(`${rw.url}/?${AUTH_PARAMS}`, { method: 'POST', body: '' })
    expect(empty.headers.get('x-clickhouse-exception-code')).toBe('62')
  })

  it('insert: the query parameter, a newline, then the body; or everything in the body', async () => {
    const q = encodeURIComponent('INSERT INTO web.t FORMAT TabSeparated')
    const res = await fetch(`${rw.url}/?${AUTH_PARAMS}&query=${q}`, { method: 'POST', body: '1\tone;two\n2\ttwo\n' })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.headers.get('x-clickhouse-summary')!).written_rows).toBe('2')
    const inBody = await fetch(`${rw.url}/?${AUTH_PARAMS}`, { method: 'POST', body: 'INSERT INTO web.t FORMAT JSONEachRow\n{"id":3,"s":"three"}' })
    expect(inBody.status).toBe(200)
    const check = await fetch(`${rw.url}/?${AUTH_PARAMS}&query=${encodeURIComponent('SELECT groupArray(s) FROM (SELECT s FROM web.t ORDER BY id)')}`)
    expect(await check.text()).toBe("['one;two','two','three']\n")
  })

  it('GET never writes, even on a writable interface', async () => {
    const res = await fetch(`${rw.url}/?${AUTH_PARAMS}&query=${encodeURIComponent("INSERT INTO web.t VALUES (9, 'get')")}`)
    expect(res.ok).toBe(false)
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('164')
  })

  it('gzip: compressed request bodies and responses with @clickhouse/client', async () => {
    const c = track(createClient({ url: rw.url, database: 'web', compression: { request: true, response: true } }))
    await c.insert({ table: 't', format: 'JSONEachRow', values: [{ id: 100, s: 'gzipped ✓' }] })
    const rs = await c.query({ query: 'SELECT s FROM t WHERE id = {id:UInt64}', query_params: { id: 100 }, format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ s: 'gzipped ✓' }])

    // and on the wire
    const raw = await request(`${rw.url}/?${AUTH_PARAMS}&enable_http_compression=1&query=${encodeURIComponent('SELECT s FROM web.t WHERE id = 100')}`, {
      headers: { 'accept-encoding': 'gzip' },
    })
    expect(raw.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(raw.body).toString()).toBe('gzipped ✓\n')
    // an encoding the client refuses (q=0) is never chosen
    const refused = await request(`${rw.url}/?${AUTH_PARAMS}&enable_http_compression=1&query=${encodeURIComponent('SELECT s FROM web.t WHERE id = 100')}`, {
      headers: { 'accept-encoding': 'gzip;q=0, deflate;q=0' },
    })
    expect(refused.headers['content-encoding']).toBeUndefined()
    expect(refused.body.toString()).toBe('gzipped ✓\n')
    const up = await request(`${rw.url}/?${AUTH_PARAMS}&query=${encodeURIComponent('INSERT INTO web.t FORMAT CSV')}`, {
      method: 'POST',
      body: gzipSync('101,"raw gzip"\n'),
      headers: { 'content-encoding': 'gzip' },
    })
    expect(up.status).toBe(200)
    const zstd = await request(`${rw.url}/?${AUTH_PARAMS}&query=${encodeURIComponent('INSERT INTO web.t FORMAT CSV')}`, { method: 'POST', body: 'x', headers: { 'content-encoding': 'zstd' } })
    expect(zstd.status).toBe(415)
  })

  it('leaves multipart bodies and native compression unsupported, with a clear error', async () => {
    const c = track(createClient({ url: rw.url, use_multipart_params: true }))
    const err = await expectClickHouseError(c.query({ query: 'SELECT {a:String}', query_params: { a: 'x' } }), 48, 'NOT_IMPLEMENTED')
    expect(err.message).toMatch(/multipart/)
    const native = await fetch(`${rw.url}/?${AUTH_PARAMS}&compress=1&query=SELECT%201`)
    expect(native.status).toBe(501)
  })

  it('refuses requests whose Host is a web name (DNS rebinding)', async () => {
    const res = await request(`${rw.url}/?${AUTH_PARAMS}&query=SELECT%201`, { headers: { host: 'evil.example.com' } })
    expect(res.status).toBe(403)
    const ok = await request(`${rw.url}/?${AUTH_PARAMS}&query=SELECT%201`, { headers: { host: `localhost:${rw.port}` } })
    expect(ok.status).toBe(200)
  })

  it('read-only interface: SELECT yes; INSERT, CREATE, multi-statements and file access no', async () => {
    const c = track(createClient({ url: ro.url, database: 'web' }))
    const rs = await c.query({ query: 'SELECT count() AS n FROM t', format: 'JSONEachRow', clickhouse_settings: { max_execution_time: 5 } })
    expect(Number((await rs.json<{ n: string }>())[0]?.n)).toBeGreaterThan(0)
    await expectClickHouseError(c.insert({ table: 't', format: 'JSONEachRow', values: [{ id: 1, s: 'x' }] }), 164, 'READONLY')
    await expectClickHouseError(c.command({ query: 'CREATE TABLE nope (a UInt8) ENGINE = Memory' }), 164, 'READONLY')
    await expectClickHouseError(c.command({ query: 'SELECT 1; SELECT 2' }), 62, 'SYNTAX_ERROR')
    await expectClickHouseError(c.query({ query: "SELECT * FROM file('/etc/passwd', 'LineAsString')" }), 497, 'ACCESS_DENIED')
    await expectClickHouseError(c.query({ query: 'SELECT 1', clickhouse_settings: { readonly: '0' } }), 164, 'READONLY')
    const post = await fetch(`${ro.url}/?${AUTH_PARAMS}`, { method: 'POST', body: "INSERT INTO web.t VALUES (7, 'w')" })
    expect(post.status).toBe(500) // READONLY maps to 500 on a server too
    expect(post.headers.get('x-clickhouse-exception-code')).toBe('164')
    expect(await (await fetch(`${ro.url}/?${AUTH_PARAMS}&query=SELECT%201`)).text()).toBe('1\n')
    expect((await fetch(`${ro.url}/?${AUTH_PARAMS}&query=SELEC%201`)).headers.get('x-clickhouse-exception-code')).toBe('62')
  })

  it('50 concurrent parameterized queries on both paths at once each get their own values', async () => {
    const direct = track(createEmbeddedClient(engine, { database: 'web' }))
    const overHttp = track(createClient({ url: rw.url, database: 'web' }))
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const client = i % 2 === 0 ? direct : overHttp
        const rs = await client.query({
          query: 'SELECT {i:UInt32} AS i, {s:String} AS s, {a:Array(String)} AS a, {m:Map(String, String)} AS m',
          format: 'JSONEachRow',
          query_params: { i, s: `v'${i}\t`, a: [`x${i}`, `y'${i}`], m: { [`k${i}`]: `v${i}` } },
        })
        return (await rs.json<Record<string, unknown>>())[0]
      }),
    )
    results.forEach((row, i) => expect(row).toEqual({ i, s: `v'${i}\t`, a: [`x${i}`, `y'${i}`], m: { [`k${i}`]: `v${i}` } }))
  })
})
