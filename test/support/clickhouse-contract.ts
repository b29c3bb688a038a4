import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client'

/**
 * What ccproxy needs from a ClickHouseClient, whatever is behind it. Registered once per path (the
 * direct embedded client, @clickhouse/client over the embedded HTTP interface); it should hold against a
 * real ClickHouse server as well, so it only uses what a server offers.
 */
export interface ContractTarget {
  /** a client on `database` (which may not exist yet) */
  connect(database: string): ClickHouseClient
  /** a prefix for the databases this run creates */
  tag: string
  /** where timings are reported */
  report?: (line: string) => void
}

export async function expectClickHouseError(p: Promise<unknown>, code: number, type: string): Promise<ClickHouseError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ClickHouseError)
  expect((err as ClickHouseError).code).toBe(String(code))
  expect((err as ClickHouseError).type).toBe(type)
  return err as ClickHouseError
}

const HOSTILE = "o'neil\ttab \\back\\slash\nnew line ünïcödé 🚀 \"dq\" `bq` {x:String} ; DROP TABLE t --"

export function clickhouseContract(name: string, target: () => ContractTarget): void {
  describe(`ClickHouseClient contract: ${name}`, () => {
    const clients: ClickHouseClient[] = []
    let t: ContractTarget
    let db: string
    let c: ClickHouseClient
    const connect = (database: string) => {
      const client = t.connect(database)
      clients.push(client)
      return client
    }

    beforeAll(async () => {
      t = target()
      db = `contract_${t.tag}`
      await connect('default').command({ query: 'CREATE DATABASE IF NOT EXISTS {db:Identifier}', query_params: { db } })
      c = connect(db)
      await c.command({
        query: `CREATE TABLE IF NOT EXISTS items (
          id String, version UInt64, label String, n UInt64, at DateTime64(3, 'UTC')
        ) ENGINE = ReplacingMergeTree(version) ORDER BY id`,
      })
    })
    afterAll(async () => {
      for (const client of clients) await client.close()
    })

    it('pings', async () => {
      expect(await c.ping()).toEqual({ success: true })
    })

    it('runs DDL, and ReplacingMergeTree(version) with FINAL returns the newest version', async () => {
      await c.insert({
        table: 'items',
        format: 'JSONEachRow',
        values: [
          { id: 'a', version: 1, label: 'old', n: 1, at: '2026-01-01 00:00:00.000' },
          { id: 'a', version: 2, label: 'new', n: 2, at: '2026-01-02 00:00:00.000' },
        ],
      })
      const rs = await c.query({ query: "SELECT label, version FROM items FINAL WHERE id = 'a'", format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([{ label: 'new', version: '2' }])
    })

    it('inserts JSONEachRow with and without a column list, and reports rows written', async () => {
      const all = await c.insert({
        table: 'items',
        format: 'JSONEachRow',
        values: [{ id: 'b', version: 1, label: 'all columns', n: '18446744073709551615', at: 1767225600123 }],
      })
      expect(all.executed).toBe(true)
      expect(all.summary?.written_rows).toBe('1')
      const some = await c.insert({ table: 'items', format: 'JSONEachRow', columns: ['id', 'label'], values: [{ id: 'c', label: 'two columns' }] })
      expect(some.summary?.written_rows).toBe('1')
      const rs = await c.query({ query: "SELECT id, label, n, version FROM items FINAL WHERE id IN ('b', 'c') ORDER BY id", format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([
        { id: 'b', label: 'all columns', n: '18446744073709551615', version: '1' },
        { id: 'c', label: 'two columns', n: '0', version: '0' },
      ])
    })

    it('reads JSONEachRow, JSON (meta/data/rows), CSV and TabSeparated', async () => {
      const sql = 'SELECT number AS n, toString(number) AS s FROM system.numbers LIMIT 2'
      expect(await (await c.query({ query: sql, format: 'JSONEachRow' })).json()).toEqual([
        { n: '0', s: '0' },
        { n: '1', s: '1' },
      ])
      const json = await (await c.query({ query: sql, format: 'JSON' })).json<{ n: string; s: string }>()
      expect(json.meta).toEqual([
        { name: 'n', type: 'UInt64' },
        { name: 's', type: 'String' },
      ])
      expect(json.data).toEqual([
        { n: '0', s: '0' },
        { n: '1', s: '1' },
      ])
      expect(json.rows).toBe(2)
      expect(await (await c.query({ query: sql, format: 'CSV' })).text()).toBe('0,"0"\n1,"1"\n')
      expect(await (await c.query({ query: sql, format: 'TabSeparated' })).text()).toBe('0\t0\n1\t1\n')
    })

    it('streams JSONEachRow rows', async () => {
      const rs = await c.query({ query: 'SELECT number AS n FROM system.numbers LIMIT 1000', format: 'JSONEachRow' })
      let count = 0
      let sum = 0
      for await (const rows of rs.stream<{ n: string }>()) {
        for (const row of rows) {
          count++
          sum += Number(row.json().n)
        }
      }
      expect(count).toBe(1000)
      expect(sum).toBe((999 * 1000) / 2)
    })

    it('binds parameters of every type ccproxy uses', async () => {
      const at = new Date('2026-11-05T10:20:30.456Z')
      await c.insert({ table: 'items', format: 'JSONEachRow', values: [{ id: HOSTILE, version: 1 }] })
      const rs = await c.query({
        query: `SELECT
          {s:String} AS s,
          {arr:Array(String)} AS arr,
          {big:UInt64} AS big,
          toUnixTimestamp64Milli({at:DateTime64(3)}) AS at_ms,
          {nothing:Nullable(String)} AS nothing,
          {m:Map(String, String)} AS m,
          (SELECT count() FROM {table:Identifier} FINAL WHERE id = {id:String}) AS found`,
        format: 'JSONEachRow',
        query_params: {
          s: HOSTILE,
          arr: ["it's", 'say "hi"', 'back\\slash', 'a,b', "['nested']"],
          big: 18446744073709551615n,
          at,
          nothing: null,
          m: { "k'1": "v'1", k2: 'tab\there' },
          table: 'items',
          id: HOSTILE,
        },
      })
      expect(await rs.json()).toEqual([
        {
          s: HOSTILE,
          arr: ["it's", 'say "hi"', 'back\\slash', 'a,b', "['nested']"],
          big: '18446744073709551615',
          at_ms: String(at.getTime()),
          nothing: null,
          m: { "k'1": "v'1", k2: 'tab\there' },
          found: '1',
        },
      ])
    })

    it('answers 50 concurrent parameterized queries each with its own values', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const rs = await c.query({
            query: 'SELECT {i:UInt32} AS i, {s:String} AS s, {a:Array(String)} AS a',
            format: 'JSONEachRow',
            query_params: { i, s: `value ${i} '${i}'`, a: [`x${i}`, `y'${i}`] },
          })
          return (await rs.json<{ i: number; s: string; a: string[] }>())[0]
        }),
      )
      results.forEach((row, i) => expect(row).toEqual({ i, s: `value ${i} '${i}'`, a: [`x${i}`, `y'${i}`] }))
    })

    it('applies clickhouse_settings to one query only', async () => {
      const sql = "SELECT toString(getSetting('max_result_rows')) AS v, getSetting('output_format_json_quote_64bit_integers') AS q"
      const withSettings = await c.query({ query: sql, format: 'JSONEachRow', clickhouse_settings: { max_result_rows: '5', output_format_json_quote_64bit_integers: 0 } })
      expect(await withSettings.json()).toEqual([{ v: '5', q: false }])
      const without = await c.query({ query: sql, format: 'JSONEachRow' })
      expect(await without.json()).toEqual([{ v: '0', q: true }])

      await expectClickHouseError(
        c.query({ query: 'SELECT number FROM system.numbers LIMIT 3', format: 'JSONEachRow', clickhouse_settings: { max_result_rows: '1', result_overflow_mode: 'throw' } }),
        396,
        'TOO_MANY_ROWS_OR_BYTES',
      )
      const after = await c.query({ query: 'SELECT number FROM system.numbers LIMIT 3', format: 'JSONEachRow' })
      expect(await after.json()).toHaveLength(3)
    })

    it("reads and writes the client's database", async () => {
      const rs = await c.query({ query: 'SELECT currentDatabase() AS db, count() AS n FROM items', format: 'JSONEachRow' })
      expect((await rs.json<{ db: string }>())[0]?.db).toBe(db)
      await expectClickHouseError(connect('default').query({ query: 'SELECT count() FROM items' }), 60, 'UNKNOWN_TABLE')
    })

    it('surfaces errors as ClickHouseError with code and type', async () => {
      const unknown = await expectClickHouseError(c.query({ query: 'SELECT * FROM no_such_table' }), 60, 'UNKNOWN_TABLE')
      expect(unknown.message).toMatch(/no_such_table/)
      await expectClickHouseError(c.query({ query: 'SELEC 1' }), 62, 'SYNTAX_ERROR')
      await expectClickHouseError(c.command({ query: 'DROP TABLE no_such_table' }), 60, 'UNKNOWN_TABLE')
      await expectClickHouseError(
        c.insert({ table: 'items', format: 'JSONEachRow', values: [{ id: 'z', version: 'not a number' }] }),
        27,
        'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
      )
    })

    it('refuses more than one statement in a request', async () => {
      await expectClickHouseError(c.command({ query: 'SELECT 1; SELECT 2' }), 62, 'SYNTAX_ERROR')
      await expectClickHouseError(c.command({ query: "INSERT INTO items (id) VALUES ('m1'); DROP TABLE items" }), 62, 'SYNTAX_ERROR')
      // trailing semicolons and semicolons inside strings are fine
      await c.command({ query: "SELECT ';' ;;" })
    })

    it('exec: full SQL with its own FORMAT, and data sent as the body', async () => {
      const r = await c.exec({ query: 'SELECT 42 AS answer FORMAT JSONEachRow' })
      let text = ''
      for await (const chunk of r.stream) text += chunk.toString()
      expect(JSON.parse(text)).toEqual({ answer: 42 })

      const { Readable } = await import('node:stream')
      const w = await c.exec({ query: 'INSERT INTO items (id, label) FORMAT TabSeparated', values: Readable.from(['e1\tfrom exec\n']) })
      for await (const _ of w.stream);
      const rs = await c.query({ query: "SELECT label FROM items WHERE id = 'e1'", format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([{ label: 'from exec' }])
    })

    it('times a 10k-row insert and a small parameterized query', async () => {
      await c.command({ query: 'CREATE TABLE IF NOT EXISTS bulk (id UInt64, s String, at DateTime64(3)) ENGINE = MergeTree ORDER BY id' })
      const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, s: `row ${i} with some text`, at: Date.now() }))
      let t0 = performance.now()
      const ins = await c.insert({ table: 'bulk', format: 'JSONEachRow', values: rows })
      const insertMs = performance.now() - t0
      expect(ins.summary?.written_rows).toBe('10000')

      const n = 50
      t0 = performance.now()
      for (let i = 0; i < n; i++) {
        const rs = await c.query({ query: 'SELECT s FROM bulk WHERE id = {id:UInt64}', format: 'JSONEachRow', query_params: { id: i } })
        expect(await rs.json()).toEqual([{ s: `row ${i} with some text` }])
      }
      const queryMs = (performance.now() - t0) / n
      t.report?.(`[timing] ${name}: 10k-row insert ${insertMs.toFixed(1)} ms; small param query ${queryMs.toFixed(2)} ms avg over ${n}`)
    })
  })
}
