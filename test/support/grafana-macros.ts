/**
 * Expands a dashboard's ClickHouse SQL the way Grafana and the grafana-clickhouse-datasource plugin do before
 * the query reaches ClickHouse, so tests can run panel and alert queries on a real engine. Three steps, in
 * the order they happen:
 *
 * 1. `$__conditionalAll(condition, $var)`, in the browser: grafana/clickhouse-datasource
 *    src/data/CHDatasource.ts `applyConditionalAll` + `getMacroArgs` — innermost-last (lastIndexOf), the two
 *    arguments split on top-level commas and kept untrimmed; the condition becomes `1=1` when the variable's
 *    value is "All" ($__all) or empty, else it stays as written.
 * 2. Dashboard variables, in the browser: Grafana's templateSrv.replace (variableRegex from
 *    public/app/features/variables/utils.ts) with the plugin's format function — a multi-value becomes
 *    `'a','b'`, a single value is inserted as is — or an explicit `${var:sqlstring}` (Grafana's formatter:
 *    each value single-quoted, quotes doubled, joined with commas). Names starting with `__` are Grafana's
 *    and the plugin's macros, left alone.
 * 3. Time macros, in the plugin's backend: pkg/macros/macros.go (the expansions) matched the way
 *    grafana-plugin-sdk-go data/sqlutil/macros.go does (`\$__name\b`; arguments only from a bracket right
 *    after the name, split on top-level commas, trimmed). Times are whole UTC seconds (Go's t.Unix()),
 *    dates UTC (the plugin runs with TZ=UTC in Grafana's image), the interval at least one second.
 *
 * Stricter than Grafana in one way: an unknown variable, an unknown macro or "All" outside
 * $__conditionalAll throws here, where Grafana would send text ClickHouse rejects or a value we did not mean.
 */

export const ALL = '$__all'

/** A variable's current value: one value, several (multi-select), or ALL. */
export type VariableValue = string | string[]

export interface QueryContext {
  from: Date
  to: Date
  /** the panel's interval ($__interval_s, $__timeInterval) */
  intervalMs: number
  variables?: Record<string, VariableValue>
}

export function expandQuery(sql: string, ctx: QueryContext): string {
  const variables = ctx.variables ?? {}
  return applyMacros(replaceVariables(applyConditionalAll(sql, variables), variables), ctx)
}

// --- 1. $__conditionalAll (frontend) -------------------------------------------------------------------

function applyConditionalAll(rawQuery: string, variables: Record<string, VariableValue>): string {
  const macro = '$__conditionalAll('
  let index = rawQuery.lastIndexOf(macro)
  while (index !== -1) {
    const params = macroArgs(rawQuery, index + macro.length - 1)
    if (params.length !== 2) return rawQuery
    const [condition, variableArg] = params as [string, string]
    const name = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(variableArg.trim())?.[0]
    let phrase = condition
    if (name !== undefined) {
      const value = variables[name]
      if (value === undefined) throw new Error(`$__conditionalAll names an unknown variable $${name}`)
      if (String(value) === '' || String(value) === ALL) phrase = '1=1'
    }
    rawQuery = rawQuery.replace(`${macro}${condition},${variableArg})`, phrase)
    index = rawQuery.lastIndexOf(macro)
  }
  return rawQuery
}

// The plugin's getMacroArgs: from the opening bracket, split on commas at depth 1, stop at the matching close.
function macroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = []
  const re = /\(|\)|,/g
  let depth = 0
  let lastArgEnd = 1
  const rest = query.substring(argsIndex)
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    if (m[0] === '(') depth++
    else if (m[0] === ')') depth--
    if (m[0] === ',' && depth === 1) {
      args.push(rest.substring(lastArgEnd, re.lastIndex - 1))
      lastArgEnd = re.lastIndex
    }
    if (depth === 0) {
      args.push(rest.substring(lastArgEnd, re.lastIndex - 1))
      return args
    }
  }
  return []
}

// --- 2. dashboard variables (frontend) -------------------------------------------------------------------

const variableRegex = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g

function replaceVariables(sql: string, variables: Record<string, VariableValue>): string {
  return sql.replace(variableRegex, (match, name1?: string, name2?: string, format2?: string, name4?: string, _fieldPath?: string, format4?: string) => {
    const name = (name1 ?? name2 ?? name4)!
    if (name.startsWith('__')) return match
    const value = variables[name]
    if (value === undefined) throw new Error(`unknown dashboard variable $${name}`)
    if (String(value) === ALL) throw new Error(`$${name} is "All" outside $__conditionalAll: Grafana would insert its allValue`)
    const format = format2 ?? format4
    if (format === 'sqlstring') return (Array.isArray(value) ? value : [value]).map((v) => `'${v.replace(/'/g, "''")}'`).join(',')
    if (format !== undefined) throw new Error(`format :${format} is not supported here`)
    return Array.isArray(value) ? `'${value.join("','")}'` : value
  })
}

// --- 3. time macros (backend) ----------------------------------------------------------------------------

type Macro = (args: string[], ctx: QueryContext) => string

const seconds = (d: Date) => Math.floor(d.getTime() / 1000)
const dateTime = (d: Date) => `toDateTime(${seconds(d)})`
const dateTime64 = (d: Date) => `fromUnixTimestamp64Milli(${d.getTime()})`
const date = (d: Date) => `toDate('${d.toISOString().slice(0, 10)}')`
const intervalSeconds = (ctx: QueryContext) => Math.trunc(Math.max(ctx.intervalMs / 1000, 1))

function arity(name: string, n: number, args: string[]) {
  if (args.length !== n) throw new Error(`$__${name}: unexpected number of arguments: expected ${n} argument${n > 1 ? 's' : ''}, received ${args.length}`)
}

const macros: Record<string, Macro> = {
  fromTime: (_, ctx) => dateTime(ctx.from),
  toTime: (_, ctx) => dateTime(ctx.to),
  fromTime_ms: (_, ctx) => dateTime64(ctx.from),
  toTime_ms: (_, ctx) => dateTime64(ctx.to),
  timeFilter: (args, ctx) => (arity('timeFilter', 1, args), `${args[0]} >= ${dateTime(ctx.from)} AND ${args[0]} <= ${dateTime(ctx.to)}`),
  timeFilter_ms: (args, ctx) => (arity('timeFilter_ms', 1, args), `${args[0]} >= ${dateTime64(ctx.from)} AND ${args[0]} <= ${dateTime64(ctx.to)}`),
  dateFilter: (args, ctx) => (arity('dateFilter', 1, args), `${args[0]} >= ${date(ctx.from)} AND ${args[0]} <= ${date(ctx.to)}`),
  timeInterval: (args, ctx) => (arity('timeInterval', 1, args), `toStartOfInterval(toDateTime(${args[0]}), INTERVAL ${intervalSeconds(ctx)} second)`),
  interval_s: (_, ctx) => String(intervalSeconds(ctx)),
}

function applyMacros(sql: string, ctx: QueryContext): string {
  let out = ''
  let pos = 0
  const name = /\$__(\w+)/g
  for (let m = name.exec(sql); m !== null; m = name.exec(sql)) {
    const macro = macros[m[1]!]
    if (!macro) throw new Error(`unknown macro $__${m[1]}`)
    const { args, length } = parseArgs(sql.slice(name.lastIndex))
    out += sql.slice(pos, m.index) + macro(args, ctx)
    pos = name.lastIndex + length
    name.lastIndex = pos
  }
  return out + sql.slice(pos)
}

// sqlutil's parseArgs: only a bracket right after the name opens arguments.
function parseArgs(rest: string): { args: string[]; length: number } {
  if (!rest.startsWith('(')) return { args: [], length: 0 }
  const args: string[] = []
  let depth = 0
  let arg = ''
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!
    if (c === '(' && ++depth === 1) continue
    if (c === ')' && --depth === 0) {
      args.push(arg.trim())
      return { args, length: i + 1 }
    }
    if (c === ',' && depth === 1) {
      args.push(arg.trim())
      arg = ''
      continue
    }
    arg += c
  }
  throw new Error('failed to parse macro arguments (missing close bracket?)')
}
