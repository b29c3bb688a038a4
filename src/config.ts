import { readFileSync, existsSync } from 'node:fs'
import { isIP } from 'node:net'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { parseDuration } from './duration.ts'
import { DEFAULT_READER_LIMITS } from './warehouse/embedded/sandbox.ts'
import { CLUSTER_NAME_RULE, isClusterName } from './warehouse/cluster.ts'

// A duration in config is written as text ("720h", "30d") and used as milliseconds.
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : parseDuration(v)
  if (ms === undefined || ms < 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 500ms, 30s, 15m, 720h or 30d' })
    return z.NEVER
  }
  return ms
})
const port = z.number().int().min(0).max(65535)

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1).default('0.0.0.0'),
    port: port.default(8080),
    body_limit: z.number().int().positive().default(32 * 1024 * 1024),
    trusted_proxies: z.array(z.string().min(1)).default([]),
    shutdown_timeout: duration.prefault('30s'),
    // after in-flight requests are answered (or cut), how long flushing and closing may take in all; the process
    // exits at the latest shutdown_timeout + shutdown_grace after the signal. Half of it bounds the final inserts.
    shutdown_grace: duration.refine((ms) => ms > 0, 'expected a duration above 0').prefault('10s'),
    // the whole request (headers and body) must arrive within this; 0 = no limit. The response is not timed.
    body_timeout: duration.prefault('120s'),
  }),
  admin: z.strictObject({
    key: z.string().default(''),
    // wrong admin keys one client address may send within failure_window before it gets 429s until the window ends
    max_failures: z.number().int().positive().default(10),
    failure_window: duration.refine((ms) => ms > 0, 'expected a duration above 0').prefault('5m'),
  }),
  jwt: z.strictObject({
    secret: z.string().default(''),
    issuer: z.string().min(1).default('ccproxy'),
    default_expiry: duration.prefault('720h'),
  }),
  auth: z.strictObject({ token_cache_ttl: duration.prefault('2s') }),
  claude: z.strictObject({
    api_url: z.url({ protocol: /^https?$/ }).default('https://api.anthropic.com'),
    api_keys: z.array(z.string().min(1)).default([]),
    key_strategy: z.enum(['round_robin', 'random', 'least_loaded']).default('round_robin'),
    default_max_tokens: z.number().int().positive().default(4096),
    max_attempts: z.number().int().min(1).max(10).default(3),
    connect_timeout: duration.prefault('10s'),
    first_byte_timeout: duration.prefault('10m'),
    idle_timeout: duration.prefault('5m'),
    auth_failure_cooldown: duration.prefault('5m'),
    rate_limit_cooldown: duration.prefault('30s'),
    beta_policy: z.enum(['forward', 'allow_list']).default('forward'),
    beta_allow_list: z.array(z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected a beta name such as context-1m-2025-08-07')).default([]),
  }).refine((claude) => claude.beta_policy === 'allow_list' || claude.beta_allow_list.length === 0, {
    // a list the policy ignores would forward every beta while the operator believes they are restricted
    message: 'is only used with claude.beta_policy: allow_list; set that too, or empty the list',
    path: ['beta_allow_list'],
  }),
  conversations: z.strictObject({
    enabled: z.boolean().default(true),
    redact_builtin: z.boolean().default(true),
    // base64 images and documents in stored conversations; off = a placeholder with type and size
    store_media: z.boolean().default(false),
    redact: z
      .array(
        z.strictObject({
          pattern: z.string().min(1).refine(isRegex, 'expected a valid regular expression'),
          replacement: z.string().default('[REDACTED]'),
        }),
      )
      .default([]),
    // larger conversations are stored cut, with a marker (record/build.ts)
    max_bytes: z.number().int().min(64 * 1024).default(4 * 1024 ** 2),
  }),
  logging: z.strictObject({
    buffer_size: z.number().int().positive().default(10_000),
    batch_size: z.number().int().positive().default(1000),
    flush_interval: duration.prefault('500ms'),
    workers: z.number().int().min(1).max(16).default(2),
    // 0: rows are never dropped while the disk has room
    spool_max_bytes: z.number().int().min(0).default(0),
    buffer_max_bytes: z.number().int().min(1024 ** 2).default(256 * 1024 ** 2),
    batch_max_bytes: z.number().int().min(64 * 1024).default(16 * 1024 ** 2),
  }),
  retention: z.strictObject({
    storage_policy: z.string().default(''),
    move_after: z.union([z.literal(''), z.string().regex(/^[1-9]\d*d$/, 'expected days, such as 90d')]).default(''),
    cold_volume: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a volume name').default('cold'),
  }),
  metrics: z.strictObject({
    enabled: z.boolean().default(true),
    path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/, 'expected a path such as /metrics').default('/metrics'),
    bearer_token: z.string().default(''),
    token_labels: z.boolean().default(false),
    max_label_sets: z.number().int().min(1).default(5000),
  }),
  otel: z.strictObject({
    endpoint: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    service_name: z.string().default(''),
    capture_content: z.boolean().default(false),
    sample_ratio: z.number().min(0).max(1).default(1),
  }),
  ui: z.strictObject({
    // the built web app (index.html, assets/); empty = web/dist of the ccproxy package
    dir: z.string().default(''),
    // how long a sign-in lasts (fixed from sign-in; the cookie's Max-Age)
    session_ttl: duration.refine((ms) => ms >= 1000, 'expected a duration of at least 1s').prefault('12h'),
    // a trace viewer's page for one trace (Grafana Tempo, Jaeger …); the app links trace ids to it
    trace_url: z
      .union([z.literal(''), z.url({ protocol: /^https?$/ }).refine((u) => u.includes('{trace_id}'), 'expected an http(s) URL with {trace_id} in it')])
      .default(''),
  }),
  data_dir: z.string().min(1).default('./data'),
  clickhouse: z.strictObject({
    url: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    username: z.string().default('default'),
    password: z.string().default(''),
    database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a plain identifier').default('ccproxy'),
    // a self-managed ClickHouse cluster: migrations run ON CLUSTER with Replicated engines (warehouse/cluster.ts)
    cluster: z.string().refine(isClusterName, CLUSTER_NAME_RULE).default(''),
    // The admin API's reads run on connections of their own, so they never hold up the gateway's own
    // lookups or the exporter's inserts, and with few threads, so they leave cores to the request path.
    admin_queries: z.strictObject({
      max_concurrent: z.number().int().min(1).max(256).default(4),
      max_threads: z.number().int().min(0).max(256).default(0),
      max_execution_time: z.number().int().positive().default(30),
    }),
    embedded: z.strictObject({
      path: z.string().default(''),
      // Not ClickHouse's own 8123: a developer with a local ClickHouse can run both.
      http_port: port.default(8124),
      http_readonly: z.boolean().default(true),
      http_user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a user name of letters, digits, _ . -').default('ccproxy'),
      http_password: z.string().default(''),
      http_body_limit: z.number().int().positive().default(64 * 1024 * 1024),
      http_max_concurrent: z.number().int().min(1).max(256).default(8),
      reader_limits: z.strictObject({
        max_execution_time: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_execution_time),
        max_memory_usage: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_memory_usage),
        max_rows_to_read: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_rows_to_read),
        max_bytes_to_read: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_bytes_to_read),
        max_result_rows: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_result_rows),
        max_result_bytes: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_result_bytes),
        max_temporary_data_on_disk_size_for_query: z.number().int().positive().default(DEFAULT_READER_LIMITS.max_temporary_data_on_disk_size_for_query),
        function_sleep_max_microseconds_per_block: z.number().int().min(0).default(DEFAULT_READER_LIMITS.function_sleep_max_microseconds_per_block),
      }),
    }),
  }).refine((clickhouse) => clickhouse.cluster === '' || clickhouse.url !== '', {
    // the embedded engine is one node in this process: there is no cluster to send DDL to
    message: 'needs a ClickHouse server: set clickhouse.url (CCPROXY_CLICKHOUSE_URL) too, or leave the cluster empty for the embedded engine',
    path: ['cluster'],
  }),
})

function isRegex(source: string): boolean {
  try {
    new RegExp(source)
    return true
  } catch {
    return false
  }
}

export type Config = z.output<typeof configSchema>
export type ConfigInput = z.input<typeof configSchema>

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`)
  }
}

/** Every leaf key path of the schema, with the kind of value it holds (for environment overrides). */
function leafKinds(schema: z.ZodType, path: string[] = []): Array<{ path: string[]; kind: string }> {
  const def = (schema as any)._zod.def
  if (def.type === 'default' || def.type === 'optional' || def.type === 'pipe') {
    return leafKinds(def.type === 'pipe' ? def.in : def.innerType, path)
  }
  if (def.type === 'object') {
    return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) => leafKinds(v, [...path, k]))
  }
  const kind = def.type === 'union' ? (def.options.some((o: any) => o._zod.def.type === 'number') ? 'duration' : 'string') : def.type
  return [{ path, kind }]
}

const envName = (path: string[]) => `CCPROXY_${path.join('_').toUpperCase()}`

function fromEnv(text: string, kind: string): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(text)
      return text.trim() === '' || Number.isNaN(n) ? text : n
    }
    case 'boolean':
      return /^(true|1|yes|on)$/i.test(text) ? true : /^(false|0|no|off)$/i.test(text) ? false : text
    case 'array':
      // a list of objects (redaction rules) is given as JSON; plain lists as comma-separated values
      if (text.trim().startsWith('[')) {
        try {
          return JSON.parse(text)
        } catch {
          return text
        }
      }
      return text.split(',').map((s) => s.trim()).filter(Boolean)
    default:
      return text
  }
}

function setPath(target: Record<string, any>, path: string[], value: unknown) {
  let node = target
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}
    node = node[key]
  }
  node[path[path.length - 1]!] = value
}

function getPath(source: unknown, path: string[]): unknown {
  return path.reduce<any>((node, key) => (node == null ? undefined : node[key]), source)
}

/**
 * Loads config.yaml (when present), applies CCPROXY_* environment overrides and validates the result.
 * Throws ConfigError with one line per problem: the key, the value and what is allowed.
 */
export function loadConfig(
  opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: ConfigInput | object; warn?: (message: string) => void } = {},
): Config {
  const env = opts.env ?? process.env
  const warn = opts.warn ?? ((message: string) => console.warn(message))
  const file = opts.file ?? env.CCPROXY_CONFIG ?? 'config.yaml'
  // The default config.yaml is optional (defaults and environment suffice); a file someone named is not.
  if (opts.file === undefined && env.CCPROXY_CONFIG !== undefined && !existsSync(file)) {
    throw new ConfigError([`CCPROXY_CONFIG=${file}: no such file`])
  }
  let raw: Record<string, any> = {}
  if (existsSync(file)) {
    const doc = parseDocument(readFileSync(file, 'utf8'))
    // The parser's whole message: it names the line and column and shows the line with a caret under the fault.
    if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${file}: not valid YAML: ${e.message.trimEnd()}`))
    raw = (doc.toJS() as Record<string, any>) ?? {}
  }
  for (const [key, value] of Object.entries(opts.overrides ?? {})) raw[key] = mergeDeep(raw[key], value)
  for (const group of ['server', 'admin', 'jwt', 'auth', 'claude', 'conversations', 'logging', 'retention', 'metrics', 'otel', 'ui', 'clickhouse']) raw[group] ??= {}
  raw.clickhouse.admin_queries ??= {}
  raw.clickhouse.embedded ??= {}
  raw.clickhouse.embedded.reader_limits ??= {}
  const known = new Set(NOT_CONFIG_KEYS)
  for (const { path, kind } of leafKinds(configSchema)) {
    known.add(envName(path))
    const text = env[envName(path)]
    if (text !== undefined) setPath(raw, path, fromEnv(text, kind))
  }
  // A misspelt variable would otherwise be ignored without a word, and the setting silently left at its default.
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith('CCPROXY_') && !known.has(name)) warn(`warning: ${name} is not a ccproxy setting and is ignored (a config key a.b_c is CCPROXY_A_B_C)`)
  }
  const result = configSchema.safeParse(raw)
  if (result.success) {
    const proxies = result.data.server.trusted_proxies.flatMap((entry, i) => (isTrustedProxy(entry) ? [] : [`server.trusted_proxies[${i}] = ${JSON.stringify(entry)}: ${TRUSTED_PROXY_FORMS}`]))
    if (proxies.length > 0) throw new ConfigError(proxies)
    return result.data
  }
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const key = issue.path.join('.')
      const value = getPath(raw, issue.path as string[])
      const shown = value === undefined ? '(unknown key)' : JSON.stringify(value)
      return issue.code === 'unrecognized_keys'
        ? `${[key, ...issue.keys].filter(Boolean).join('.')}: unknown key`
        : `${key} = ${shown}: ${issue.message}`
    }),
  )
}

/** CCPROXY_ variables that are not config keys: the config file's path, the log level, and the README's client token. */
const NOT_CONFIG_KEYS = ['CCPROXY_CONFIG', 'CCPROXY_LOG_LEVEL', 'CCPROXY_TOKEN']

const TRUSTED_PROXY_FORMS = 'expected an IP address, a CIDR range (10.0.0.0/8, fd00::/8), an address/netmask, or loopback, linklocal, uniquelocal'

/** What fastify's trustProxy (proxy-addr) takes in a list; it would otherwise fail at start naming no key. */
function isTrustedProxy(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address = '', range, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (range === undefined) return true
  if (/^\d{1,3}$/.test(range)) return Number(range) >= 1 && Number(range) <= (family === 4 ? 32 : 128)
  if (family !== 4 || isIP(range) !== 4) return false
  // a netmask is ones then zeros (255.255.0.0), and not all zeros
  const host = ~range.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) >>> 0
  return host !== 0xffffffff && (host & (host + 1)) === 0
}

function mergeDeep(base: unknown, patch: unknown): unknown {
  if (typeof base !== 'object' || base === null || typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch
  const out: Record<string, unknown> = { ...(base as object) }
  for (const [k, v] of Object.entries(patch)) out[k] = mergeDeep(out[k], v)
  return out
}
