import { ErrorCodes, clickhouseError } from './errors.ts'

/** Setting values as the engine receives them: already in ClickHouse's text form. */
export type EngineSettings = Record<string, string>

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Parameters that mean something to ClickHouse's HTTP handler, not to the query: applying them with
 * SET would fail or be meaningless in-process. `default_format` is handled by the caller (it picks the
 * output format).
 */
const HTTP_ONLY = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'session_id',
  'session_timeout',
  'session_check',
  'user',
  'password',
  'quota_key',
  'role',
  'compress',
  'decompress',
  'buffer_size',
  'wait_end_of_query',
  'enable_http_compression',
  'send_progress_in_http_headers',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
  'stacktrace',
  // Native-format revision negotiation over HTTP; chdb always writes revision 0 (what a server sends without it)
  'client_protocol_version',
])

export function isHttpOnlySetting(name: string): boolean {
  return HTTP_ONLY.has(name) || name.startsWith('http_') || name.startsWith('param_')
}

/** Mirrors @clickhouse/client's formatQuerySettings: booleans as 1/0, maps via their toString(). */
export function settingText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return String(value)
  if (typeof value === 'object' && typeof (value as object).toString === 'function') return String(value) // SettingsMap
  throw clickhouseError(ErrorCodes.BAD_ARGUMENTS, `Unsupported value for a setting: ${typeof value}`)
}

/**
 * The query-level settings in `input` (client clickhouse_settings or HTTP URL parameters), without
 * HTTP-only ones, in text form; `default_format` comes back separately.
 */
export function querySettings(input: Record<string, unknown> | undefined): { settings: EngineSettings; defaultFormat?: string } {
  const settings: EngineSettings = {}
  let defaultFormat: string | undefined
  for (const [name, value] of Object.entries(input ?? {})) {
    const text = settingText(value)
    if (text === undefined) continue
    if (name === 'default_format') defaultFormat = text
    else if (!isHttpOnlySetting(name)) settings[name] = text
  }
  return defaultFormat === undefined ? { settings } : { settings, defaultFormat }
}

export function assertSettingName(name: string): void {
  if (!SETTING_NAME.test(name)) throw clickhouseError(ErrorCodes.BAD_ARGUMENTS, `Invalid setting name '${name.slice(0, 100)}'`)
}

/** A ClickHouse string literal; SET parses numbers, booleans and enums from it. */
export function stringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** `a = 'x', b = '1'` for a SET statement; names are validated. */
export function assignments(settings: EngineSettings): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      assertSettingName(name)
      return `${name} = ${stringLiteral(value)}`
    })
    .join(', ')
}

/** A backquoted identifier (database names for USE). */
export function quoteIdentifier(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`'
}
