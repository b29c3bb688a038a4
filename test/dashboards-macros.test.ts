import { describe, expect, it } from 'vitest'
import { ALL, expandQuery, type QueryContext } from './support/grafana-macros.ts'

// The expansions the ClickHouse data source documents (docs/sources/query-editor.md, "Macros") and
// implements (pkg/macros/macros.go, CHDatasource.applyConditionalAll), for a range of one hour.
const ctx: QueryContext = {
  from: new Date('2023-11-14T22:13:20.123Z'), // 1700000000123 ms
  to: new Date('2023-11-14T23:13:20.999Z'),
  intervalMs: 90_500,
  variables: { one: 'tok-a', many: ['a', 'b'], all: ALL, none: '', quoted: ["o'neil"] },
}
const expand = (sql: string, over: Partial<QueryContext> = {}) => expandQuery(sql, { ...ctx, ...over })

describe('time macros (plugin backend)', () => {
  it.each([
    ['$__timeFilter(request_at)', 'request_at >= toDateTime(1700000000) AND request_at <= toDateTime(1700003600)'],
    ['$__timeFilter_ms(request_at)', 'request_at >= fromUnixTimestamp64Milli(1700000000123) AND request_at <= fromUnixTimestamp64Milli(1700003600999)'],
    ['$__dateFilter(stat_date)', "stat_date >= toDate('2023-11-14') AND stat_date <= toDate('2023-11-14')"],
    ['$__fromTime AND $__toTime', 'toDateTime(1700000000) AND toDateTime(1700003600)'],
    ['$__fromTime_ms, $__toTime_ms', 'fromUnixTimestamp64Milli(1700000000123), fromUnixTimestamp64Milli(1700003600999)'],
    ['$__timeInterval(request_at)', 'toStartOfInterval(toDateTime(request_at), INTERVAL 90 second)'],
    ['INTERVAL $__interval_s second', 'INTERVAL 90 second'],
    // arguments keep their own brackets and commas; spaces around them are trimmed
    ["$__timeFilter( toDateTime64(x, 3, 'UTC') )", "toDateTime64(x, 3, 'UTC') >= toDateTime(1700000000) AND toDateTime64(x, 3, 'UTC') <= toDateTime(1700003600)"],
    // a bracket after a space is not an argument list
    ['$__fromTime (1)', 'toDateTime(1700000000) (1)'],
  ])('%s', (sql, expected) => {
    expect(expand(sql)).toBe(expected)
  })

  it('the interval is at least one second', () => {
    expect(expand('$__interval_s', { intervalMs: 200 })).toBe('1')
  })

  it('refuses what the plugin refuses, and macros it does not know', () => {
    expect(() => expand('$__timeFilter(a, b)')).toThrow(/expected 1 argument/)
    expect(() => expand('$__timeFilter(a')).toThrow(/missing close bracket/)
    expect(() => expand('$__timeGroup(a, 1h)')).toThrow(/unknown macro/)
  })
})

describe('$__conditionalAll (plugin frontend)', () => {
  it.each([
    ['$__conditionalAll(m IN (${many:sqlstring}), $many)', "m IN ('a','b')"],
    ['$__conditionalAll(m IN (${all:sqlstring}), $all)', '1=1'],
    ['$__conditionalAll(m IN (${all:sqlstring}), ${all})', '1=1'],
    ['$__conditionalAll(m = ${none:sqlstring}, $none)', '1=1'],
    ['x AND $__conditionalAll(m IN (${many}), $many) AND $__conditionalAll(t IN (${all}), $all)', "x AND m IN ('a','b') AND 1=1"],
    ['$__conditionalAll(toString(s) IN (${many:sqlstring}), $many)', "toString(s) IN ('a','b')"],
  ])('%s', (sql, expected) => {
    expect(expand(sql)).toBe(expected)
  })
})

describe('dashboard variables (Grafana templateSrv with the plugin format)', () => {
  it.each([
    ['t = ${one:sqlstring}', "t = 'tok-a'"],
    ["t = '$one'", "t = 'tok-a'"],
    ['t IN (${many})', "t IN ('a','b')"],
    ['t IN ($many)', "t IN ('a','b')"],
    ['t IN (${quoted:sqlstring})', "t IN ('o''neil')"],
    ['t IN ([[many]])', "t IN ('a','b')"],
  ])('%s', (sql, expected) => {
    expect(expand(sql)).toBe(expected)
  })

  it('refuses unknown variables and "All" where Grafana would insert its allValue', () => {
    expect(() => expand('t = $nope')).toThrow(/unknown dashboard variable \$nope/)
    expect(() => expand('t IN (${all:sqlstring})')).toThrow(/outside \$__conditionalAll/)
  })
})
