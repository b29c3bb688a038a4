import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Anthropic from '@anthropic-ai/sdk'
import { startMockAnthropic } from './support/mock-anthropic.ts'
import { startTestGateway, eventually } from './support/gateway.ts'

const MODEL = 'claude-sonnet-4-6'
const ADMIN = 'durability-admin-key-000000'

describe('nothing is lost', () => {
  it('SIGTERM under load: in-flight requests finish, every record is written or spooled, a restart replays', async () => {
    const upstream = await startMockAnthropic()
    const dataDir = mkdtempSync(join(tmpdir(), 'ccproxy-sigterm-'))
    const env = {
      ...process.env,
      CCPROXY_DATA_DIR: dataDir,
      CCPROXY_SERVER_HOST: '127.0.0.1',
      CCPROXY_SERVER_PORT: '0',
      CCPROXY_CLICKHOUSE_EMBEDDED_HTTP_PORT: '0',
      CCPROXY_ADMIN_KEY: ADMIN,
      CCPROXY_CLAUDE_API_URL: upstream.url,
      CCPROXY_CLAUDE_API_KEYS: 'sk-ant-api03-sigterm-test-key-00000',
      CCPROXY_LOGGING_FLUSH_INTERVAL: '10s', // records are still queued when the signal arrives
    }
    // As `npm start` runs it: node itself, not the tsx CLI, which relays a signal and SIGKILLs its child
    // when the child does not acknowledge within 30 ms (as happens on a loaded machine).
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      await eventually(() => expect(output).toMatch(/"url":"http:\/\/127\.0\.0\.1:\d+","clickhouse"/), 20_000)
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)","clickhouse"/.exec(output)![1]!
      const minted = await fetch(`${url}/api/token/generate`, { method: 'POST', headers: { 'x-admin-key': ADMIN, 'content-type': 'application/json' }, body: '{"name":"load"}' })
      const { token, id } = (await minted.json()) as { token: string; id: string }

      const N = 60
      for (let i = 0; i < N; i++) upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'a b c d e f g h' }], chunkDelayMs: 40 })
      const client = new Anthropic({ baseURL: url, apiKey: token, maxRetries: 0 })
      const requests = Array.from({ length: N }, () => client.messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }).finalMessage())
      await eventually(() => expect(upstream.requests.length).toBe(N), 10_000)
      child.kill('SIGTERM')
      const answers = await Promise.allSettled(requests)
      expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(N)
      expect(await exited).toBe(0)

      // the same data directory, opened again: what was spooled replays on start
      const t = await startTestGateway({ data_dir: dataDir, clickhouse: { database: 'ccproxy', embedded: { path: join(dataDir, 'clickhouse'), http_port: 0 } } })
      try {
        await eventually(async () => {
          const [row] = await t.rows<{ n: string }>('SELECT count() AS n FROM request_logs WHERE token_id = {id:String}', { id })
          expect(Number(row!.n)).toBe(N)
        }, 15_000)
        const [daily] = await t.rows<{ n: string }>('SELECT sum(request_count) AS n FROM usage_stats_daily WHERE token_id = {id:String}', { id })
        expect(Number(daily!.n)).toBe(N)
      } finally {
        await t.close()
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      await upstream.close()
    }
  }, 90_000)
})
