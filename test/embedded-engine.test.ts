import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { openEmbeddedEngine, type ConnectionRole, type EmbeddedEngine, type EngineConnection } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { analyzeSql, type SqlShape } from '../src/warehouse/embedded/sql-text.ts'
import { clickhouseContract } from './support/clickhouse-contract.ts'

// chdb allows one data directory per process; vitest runs this file in a process of its own.
let engine: EmbeddedEngine
const conns: EngineConnection[] = []
const open = (opts?: { role?: ConnectionRole }) => {
  const c = engine.openConnection(opts)
  conns.push(c)
  return c
}
const text = async (p: Promise<{ bytes: Buffer }>) => (await p).bytes.toString('utf8')
const failure = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => e.message)

beforeAll(() => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-embedded-engine-')))
})
afterAll(async () => {
  for (const c of conns) c.close()
  await engine.close()
})

clickhouseContract('direct embedded client', () => ({
  tag: 'direct',
  connect: (database) => createEmbeddedClient(engine, { database }),
  report: (line) => console.log(line),
}))

describe('direct embedded client', () => {
  it('works on a database that does not exist yet, and switches to it once created', async () => {
    const client: ClickHouseClient = createEmbeddedClient(engine, { database: 'fresh_db' })
    try {
      expect((await client.ping()).success).toBe(true)
      await client.command({ query: 'CREATE DATABASE IF NOT EXISTS fresh_db' })
      await client.command({ query: 'CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a' })
      const rs = await client.query({ query: "SELECT database FROM system.tables WHERE name = 't'", format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([{ database: 'fresh_db' }])
    } finally {
      await client.close()
    }
  })

  it('applies client-level clickhouse_settings to every query', async () => {
    const client = createEmbeddedClient(engine, { database: 'default', clickhouse_settings: { max_result_rows: '7' } })
    const rs = await client.query({ query: "SELECT toString(getSetting('max_result_rows')) AS v", format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ v: '7' }])
    await client.close()
  })

  it('answers ignore_error_response with the error text, like the HTTP client', async () => {
    const client = createEmbeddedClient(engine, { database: 'default' })
    const r = await client.exec({ query: 'SELECT * FROM nowhere', ignore_error_response: true })
    let body = ''
    for await (const chunk of r.stream) body += chunk.toString()
    expect(body).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\)/)
    expect(r.http_status_code).toBe(404)
    expect(r.response_headers['x-clickhouse-exception-code']).toBe('60')
    await client.close()
  })

  it('rejects with the HTTP client\'s abort error', async () => {
    const client = createEmbeddedClient(engine, { database: 'default' })
    const ac = new AbortController()
    ac.abort()
    await expect(client.query({ query: 'SELECT 1', abort_signal: ac.signal })).rejects.toThrow('The user aborted a request.')
    await client.close()
  })
})

describe('engine connections', () => {
  it('bind RAW parameters (the HTTP param_* text form)', async () => {
    const out = await text(
      open().run('SELECT {a:Array(String)} AS a, {b:String} AS b, {n:Nullable(String)} AS n', {
        format: 'JSONEachRow',
        params: { a: "['x','y\\'z']", b: "o\\'neil\\ttab", n: '\\N' },
      }),
    )
    expect(JSON.parse(out)).toEqual({ a: ['x', "y'z"], b: "o'neil\ttab", n: null })
  })

  it('keep their own session: database, SET, and per-statement settings restored afterwards', async () => {
    const c = open()
    await c.run('CREATE DATABASE IF NOT EXISTS sess')
    expect(await text(c.run('SELECT currentDatabase()', { database: 'sess' }))).toBe('sess\n')
    expect(await text(c.run('SELECT currentDatabase()'))).toBe('sess\n')
    await c.run('USE default')
    expect(await text(c.run('SELECT currentDatabase()', { database: 'sess' }))).toBe('sess\n')

    await c.run('SET max_result_rows = 11')
    const q = "SELECT getSetting('max_result_rows'), getSetting('async_insert'), getSetting('output_format_json_quote_64bit_integers')"
    expect(await text(c.run(q, { settings: { max_result_rows: 3, async_insert: 1, output_format_json_quote_64bit_integers: false } }))).toBe('3\ttrue\tfalse\n')
    // back to the session's value, and to the connection's baseline (not the engine defaults)
    expect(await text(c.run(q))).toBe('11\tfalse\ttrue\n')
    // and another connection never saw any of it
    expect(await text(open().run(q))).toBe('0\tfalse\ttrue\n')
    expect(await failure(c.run('SELECT 1', { settings: { readonly: 1 } }))).toMatch(/BAD_ARGUMENTS/)
    // setting names never reach SQL unchecked, values are string literals
    expect(() => engine.openConnection({ settings: { 'max_threads = 1, readonly': 0 } })).toThrow(/Code: 36.*Invalid setting name/s)
    expect(await failure(c.run('SELECT 1', { settings: { max_threads: "1', readonly = '0" } }))).toMatch(/Code: \d+/)
    expect(await text(c.run("SELECT getSetting('readonly')"))).toBe('0\n')
  })

  it('serialize statements per connection and run parameterized ones one at a time across connections', async () => {
    const pool = Array.from({ length: 4 }, () => open())
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        text(pool[i % pool.length]!.run('SELECT {i:UInt32}, {s:String}', { params: { i: String(i), s: `v\\'${i}` } })),
      ),
    )
    results.forEach((r, i) => expect(r).toBe(`${i}\tv\\'${i}\n`))
  })

  it('reader: read statements only, checked on the engine\'s own parse', async () => {
    const rw = open()
    await rw.run('CREATE TABLE IF NOT EXISTS ro_t (a UInt8) ENGINE = MergeTree ORDER BY a')
    const ro = open({ role: 'reader' })
    expect(await text(ro.run('SELECT count() FROM ro_t'))).toBe('0\n')
    expect(await text(ro.run('SELECT 1', { settings: { max_threads: 1 } }))).toBe('1\n')
    expect(await failure(ro.run('INSERT INTO ro_t VALUES (1)'))).toMatch(/Code: 164.*READONLY/s)
    expect(await failure(ro.run('CREATE TABLE x (a UInt8) ENGINE = Memory'))).toMatch(/Code: 164.*READONLY/s)
    expect(await failure(ro.run('SET readonly = 0'))).toMatch(/READONLY/)
    // readonly=2 alone would let these through
    expect(await failure(ro.run('KILL MUTATION WHERE 1'))).toMatch(/Code: 164/)
    expect(await failure(ro.run('UNDROP TABLE ro_t'))).toMatch(/Code: 164/)
    // ClickHouse applies DEFAULT without checking readonly: refused before the engine sees it
    expect(await failure(ro.run("INSERT INTO ro_t SETTINGS readonly = DEFAULT VALUES (1)"))).toMatch(/Code: 164/)
    expect(await failure(ro.run("SELECT getSetting('max_execution_time') SETTINGS max_execution_time = default"))).toMatch(/Code: 164.*DEFAULT/s)
    expect(await text(ro.run("SELECT getSetting('readonly'), getSetting('max_execution_time')"))).toBe('2\t30\n')
    expect(await text(ro.run('SELECT sum(number) FROM numbers(4)'))).toBe('6\n')
    // writes are still fine on other connections
    await rw.run('INSERT INTO ro_t VALUES (1)')
    expect(await text(ro.run('SELECT count() FROM ro_t'))).toBe('1\n')
  })

  it('no connection reaches files, the network or programs: the engine has no grant for them', async () => {
    for (const c of [open({ role: 'writer' }), open({ role: 'reader' })]) {
      // the scalar file() has no grant to check in chdb: the statement gate refuses it, however it is spelled
      for (const sql of ["SELECT `file`('/etc/hostname')", 'SELECT "file"(\'/etc/hostname\')', "SELECT arrayMap(x -> file(x), ['/etc/hostname'])"]) {
        expect(await failure(c.run(sql)), `${c.role}: ${sql}`).toMatch(/Code: 497.*file\(\) reads local files/s)
      }
    }
    for (const c of [open(), open({ role: 'writer' }), open({ role: 'reader' })]) {
      for (const sql of [
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "DESCRIBE url('http://127.0.0.1:1/', 'LineAsString')",
        "SELECT * FROM remote('127.0.0.1:1', system.one)",
        "SELECT * FROM numbers(1) WHERE 1 IN (SELECT 1 FROM s3('http://127.0.0.1:1/my-bucket/key.csv', 'LineAsString'))",
      ]) {
        expect(await failure(c.run(sql)), `${c.role}: ${sql}`).toMatch(/Code: 497.*ACCESS_DENIED/s)
      }
      expect(await failure(c.run("SELECT * FROM executable('../../../../bin/ls', 'LineAsString', 'x String')"))).toMatch(/user scripts folder/)
    }
  })

  it('refuse what a server refuses over HTTP: more statements, INTO OUTFILE / FROM INFILE, empty queries', async () => {
    const c = open()
    await c.run('CREATE TABLE IF NOT EXISTS ms (a UInt8) ENGINE = MergeTree ORDER BY a')
    expect(await failure(c.run('SELECT 1; SELECT 2'))).toMatch(/Code: 62.*Multi-statements/s)
    expect(await failure(c.run('INSERT INTO ms VALUES (1); DROP TABLE ms'))).toMatch(/Code: 62/)
    expect(await failure(c.run('INSERT INTO ms VALUES', { data: Buffer.from('(2); DROP TABLE ms') }))).toMatch(/Code: 62/)
    expect(await failure(c.run("SELECT 1 INTO OUTFILE '/tmp/ccproxy-should-not-exist'"))).toMatch(/Code: 358/)
    expect(await failure(c.run("INSERT INTO ms FROM INFILE '/etc/hostname' FORMAT TSV"))).toMatch(/Code: 358/)
    expect(await failure(c.run('  -- nothing\n'))).toMatch(/Code: 62.*Empty query/s)
    expect(await text(c.run('SELECT count() FROM ms'))).toBe('0\n')
  })

  it('insert: data in the SQL or beside it; rows written include materialized views', async () => {
    const c = open()
    await c.run('CREATE TABLE IF NOT EXISTS src (a UInt64, s String) ENGINE = MergeTree ORDER BY a')
    await c.run('CREATE TABLE IF NOT EXISTS dst (a UInt64) ENGINE = MergeTree ORDER BY a')
    await c.run('CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO dst AS SELECT a * 10 AS a FROM src')
    const inline = await c.run('INSERT INTO src FORMAT TabSeparated\n1\ta;b\n')
    expect(inline.rowsWritten).toBe(2)
    const beside = await c.run('INSERT INTO src (a, s) FORMAT JSONEachRow', { data: Buffer.from('{"a":2,"s":"x"}\n{"a":3,"s":"y"}\n') })
    expect(beside.rowsWritten).toBe(4)
    const empty = await c.run('INSERT INTO src FORMAT JSONEachRow', { data: Buffer.alloc(0) })
    expect(empty.rowsWritten).toBe(0)
    expect(await text(c.run('SELECT groupArray(s) FROM (SELECT s FROM src ORDER BY a)'))).toBe("['a;b','x','y']\n")
  })

  it('an aborted statement rejects as cancelled', async () => {
    const ac = new AbortController()
    ac.abort()
    expect(await failure(open().run('SELECT 1', { signal: ac.signal }))).toMatch(/QUERY_WAS_CANCELLED/)
  })
})

describe('analyzeSql', () => {
  it.each([
    ['SELECT 1 FORMAT JSONEachRow', { keyword: 'SELECT', format: 'JSONEachRow' }],
    ['select format, a from t', { keyword: 'SELECT' }],
    ["SELECT format('{}', 1) AS f FROM t \nFORMAT CSV", { keyword: 'SELECT', format: 'CSV' }],
    ['INSERT INTO t (a, format) FORMAT JSONEachRow\n{"a":1}', { keyword: 'INSERT', format: 'JSONEachRow', dataOffset: 45 }],
    ["SELECT ';' -- ; x\n /* ; /* nested */ ; */ ;", { keyword: 'SELECT' }],
    ['SELECT 1;\n SELECT 2', { keyword: 'SELECT', secondStatementAt: 11 }],
    ["SELECT $$a;b$$, 'it''s;', \"q;\"", { keyword: 'SELECT' }],
  ] as Array<[string, Partial<SqlShape>]>)('%s', (sql, expected) => {
    const shape = analyzeSql(sql)
    expect(shape).toMatchObject(expected)
    if (!('format' in expected)) expect(shape.format).toBeUndefined()
    if (!('secondStatementAt' in expected)) expect(shape.secondStatementAt).toBeUndefined()
  })

})

describe('engine lifecycle', () => {
  it('refuses a second data directory in the same process with a clear error', () => {
    expect(() => openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-embedded-other-')))).toThrow(/Cannot open the embedded ClickHouse engine at/)
  })

  it('close() waits for running statements, is idempotent, and later calls fail clearly', async () => {
    const c = engine.openConnection()
    const running = c.run('SELECT count() FROM numbers(2000000)')
    const closing = engine.close()
    expect(await text(running)).toBe('2000000\n')
    await closing
    await engine.close()
    expect(engine.closed).toBe(true)
    expect(() => engine.openConnection()).toThrow(/closed/)
    expect(await failure(c.run('SELECT 1'))).toMatch(/closed/)
  })
})
