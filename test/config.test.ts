import { describe, expect, it } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, ConfigError } from '../src/config.ts'
import { parseDuration } from '../src/duration.ts'
import { DEFAULT_READER_LIMITS } from '../src/warehouse/embedded/sandbox.ts'

const file = (yaml: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'ccproxy-config-')), 'config.yaml')
  writeFileSync(path, yaml)
  return path
}

describe('durations', () => {
  it.each([
    ['720h', 2_592_000_000],
    ['30d', 2_592_000_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0', 0],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms))

  it.each(['', 'h', '10', '3 weeks', '10x', '1h 30m'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeUndefined())
})

describe('config', () => {
  it('the shipped config.yaml holds every default', () => {
    const config = loadConfig({ file: 'config.yaml', env: {} })
    expect(config.server).toEqual({ host: '0.0.0.0', port: 8080, body_limit: 33_554_432, trusted_proxies: [], shutdown_timeout: 30_000, shutdown_grace: 10_000, body_timeout: 120_000 })
    expect(config.admin).toEqual({ key: '', max_failures: 10, failure_window: 300_000 })
    expect(config.conversations).toEqual({ enabled: true, redact_builtin: true, store_media: false, redact: [], max_bytes: 4 * 1024 ** 2 })
    expect(config.logging).toEqual({ buffer_size: 10_000, batch_size: 1000, flush_interval: 500, workers: 2, spool_max_bytes: 0, buffer_max_bytes: 256 * 1024 ** 2, batch_max_bytes: 16 * 1024 ** 2 })
    expect(config.retention).toEqual({ storage_policy: '', move_after: '', cold_volume: 'cold' })
    expect(config.metrics).toEqual({ enabled: true, path: '/metrics', bearer_token: '', token_labels: false, max_label_sets: 5000 })
    expect(config.otel).toEqual({ endpoint: '', service_name: '', capture_content: false, sample_ratio: 1 })
    expect(config.jwt.issuer).toBe('ccproxy')
    expect(config.jwt.default_expiry).toBe(720 * 3_600_000)
    expect(config.claude.api_url).toBe('https://api.anthropic.com')
    expect(config.claude.key_strategy).toBe('round_robin')
    expect(config.data_dir).toBe('./data')
    expect(config.clickhouse).toMatchObject({
      url: '',
      database: 'ccproxy',
      embedded: { http_port: 8124, http_readonly: true, http_user: 'ccproxy', http_password: '', http_body_limit: 64 * 1024 * 1024, reader_limits: DEFAULT_READER_LIMITS },
    })
  })

  it('applies the same defaults without a file', () => {
    expect(loadConfig({ file: '/nonexistent/config.yaml', env: {} })).toEqual(loadConfig({ file: 'config.yaml', env: {} }))
  })

  it('takes CCPROXY_ environment overrides for every key, lists comma-separated', () => {
    const config = loadConfig({
      file: 'config.yaml',
      env: {
        CCPROXY_SERVER_PORT: '9090',
        CCPROXY_CLAUDE_API_KEYS: 'sk-one, sk-two',
        CCPROXY_CLAUDE_KEY_STRATEGY: 'least_loaded',
        CCPROXY_JWT_DEFAULT_EXPIRY: '30d',
        CCPROXY_CLICKHOUSE_URL: 'http://clickhouse:8123',
        CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: '0',
        CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_READONLY: 'false',
        CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PASSWORD: 'a-reader-password-of-length',
        CCPROXY_CLICKHOUSE_EMBEDDED_READER_LIMITS_MAX_EXECUTION_TIME: '5',
        CCPROXY_ADMIN_KEY: 'admin-secret',
        CCPROXY_CONVERSATIONS_REDACT: '[{"pattern":"\\\\d{16}","replacement":"[CARD]"}]',
      },
    })
    expect(config.conversations.redact).toEqual([{ pattern: '\\d{16}', replacement: '[CARD]' }])
    expect(config.server.port).toBe(9090)
    expect(config.claude.api_keys).toEqual(['sk-one', 'sk-two'])
    expect(config.claude.key_strategy).toBe('least_loaded')
    expect(config.jwt.default_expiry).toBe(30 * 86_400_000)
    expect(config.clickhouse.url).toBe('http://clickhouse:8123')
    expect(config.clickhouse.embedded).toMatchObject({ path: '', http_port: 0, http_readonly: false, http_password: 'a-reader-password-of-length' })
    expect(config.clickhouse.embedded.reader_limits).toEqual({ ...DEFAULT_READER_LIMITS, max_execution_time: 5 })
    expect(config.admin.key).toBe('admin-secret')
  })

  it('reads the YAML file, and the environment wins over it', () => {
    const path = file('server:\n  port: 7000\nclaude:\n  api_keys: [sk-a]\n')
    expect(loadConfig({ file: path, env: {} }).server.port).toBe(7000)
    expect(loadConfig({ file: path, env: {} }).claude.api_keys).toEqual(['sk-a'])
    expect(loadConfig({ file: path, env: { CCPROXY_SERVER_PORT: '7001' } }).server.port).toBe(7001)
  })

  it('reports one line per problem with the key, the value and what is allowed', () => {
    const path = file('server:\n  port: 99999\n  colour: blue\n')
    let error: ConfigError | undefined
    try {
      loadConfig({ file: path, env: { CCPROXY_CLAUDE_KEY_STRATEGY: 'fastest', CCPROXY_JWT_DEFAULT_EXPIRY: 'soon', CCPROXY_CLICKHOUSE_URL: 'ftp://x' } })
    } catch (err) {
      error = err as ConfigError
    }
    expect(error).toBeInstanceOf(ConfigError)
    const lines = error!.problems
    expect(lines).toHaveLength(5)
    expect(lines).toContainEqual(expect.stringMatching(/^server\.port = 99999: .*65535/))
    expect(lines).toContainEqual('server.colour: unknown key')
    expect(lines).toContainEqual(expect.stringMatching(/^claude\.key_strategy = "fastest": .*round_robin.*random.*least_loaded/))
    expect(lines).toContainEqual(expect.stringMatching(/^jwt\.default_expiry = "soon": expected a duration/))
    expect(lines).toContainEqual(expect.stringMatching(/^clickhouse\.url = "ftp:\/\/x": /))
  })

  it('rejects a YAML file that does not parse, naming it', () => {
    const path = file('server: [unclosed\n')
    expect(() => loadConfig({ file: path, env: {} })).toThrow(/not valid YAML/)
  })
})

describe('config a new user gets wrong', () => {
  const problems = (f: () => unknown): string[] => {
    try {
      f()
    } catch (err) {
      if (err instanceof ConfigError) return err.problems
      throw err
    }
    throw new Error('no ConfigError')
  }

  it('a CCPROXY_CONFIG file that does not exist is an error, not silently the defaults', () => {
    expect(problems(() => loadConfig({ env: { CCPROXY_CONFIG: '/nonexistent/ccproxy.yaml' } }))).toEqual([
      'CCPROXY_CONFIG=/nonexistent/ccproxy.yaml: no such file',
    ])
    const path = file('server:\n  port: 9191\n')
    expect(loadConfig({ env: { CCPROXY_CONFIG: path } }).server.port).toBe(9191)
  })

  it('an unknown CCPROXY_ variable is a warning naming it; known ones are not', () => {
    const warnings: string[] = []
    const config = loadConfig({
      file: 'config.yaml',
      env: { CCPROXY_SERVER_PROT: '9000', CCPROXY_SERVER_PORT: '9001', CCPROXY_LOG_LEVEL: 'debug', CCPROXY_CONFIG: 'config.yaml', OTHER_THING: 'x' },
      warn: (m) => warnings.push(m),
    })
    expect(config.server.port).toBe(9001)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('CCPROXY_SERVER_PROT')
  })

  it('a bad YAML file prints the parser whole message: line, column and the line itself', () => {
    const path = file('server:\n  port: 80\n   host: x\n')
    const [problem] = problems(() => loadConfig({ file: path, env: {} }))
    expect(problem).toContain(`${path}: not valid YAML`)
    expect(problem).toMatch(/line 2, column \d+/)
    expect(problem).toContain('port: 80\n')
    expect(problem).toContain('^')
  })

  it('a bad server.trusted_proxies entry names the key and the entry, from the file or the environment', () => {
    expect(problems(() => loadConfig({ file: 'config.yaml', env: { CCPROXY_SERVER_TRUSTED_PROXIES: '10.0.0.1, 10.0.0.0/33' } }))).toEqual([
      expect.stringMatching(/^server\.trusted_proxies\[1\] = "10\.0\.0\.0\/33": expected an IP address/),
    ])
    const path = file('server:\n  trusted_proxies: [nonsense, 10.0.0.0/255.0.0.1]\n')
    expect(problems(() => loadConfig({ file: path, env: {} }))).toHaveLength(2)
  })

  it('takes every form fastify trustProxy takes', () => {
    const list = ['loopback', 'linklocal', 'uniquelocal', '10.1.2.3', '10.0.0.0/8', '10.0.0.0/255.0.0.0', '::1', 'fd00::/8', '::ffff:10.0.0.1']
    expect(loadConfig({ file: 'config.yaml', env: { CCPROXY_SERVER_TRUSTED_PROXIES: list.join(',') } }).server.trusted_proxies).toEqual(list)
  })
})
