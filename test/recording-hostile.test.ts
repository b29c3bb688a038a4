import { afterAll, beforeAll, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import OpenAI from 'openai'
import Anthropic from '@anthropic-ai/sdk'
import { startTestGateway, type TestGateway } from './support/gateway.ts'
import { TRUNCATION_MARKER } from '../src/record/build.ts'

// The trial's two hostile requests, among everyone else's traffic: neither may cost another row.
// A lone surrogate (JSON's "\ud800") and an OpenAI `user` whose 256-character cut split an emoji each made
// ClickHouse refuse the insert, and the exporter set the whole batch aside.
let t: TestGateway
let optedIn: { token: string; id: string }
let plain: { token: string; id: string }
const MODEL = 'claude-sonnet-4-6'
const EMOJI_USER = 'a'.repeat(255) + '😀'

beforeAll(async () => {
  t = await startTestGateway({ logging: { flush_interval: '1s' }, conversations: { max_bytes: 64 * 1024 } })
  optedIn = await t.mintToken({ name: 'opted-in' })
  await t.admin('PUT', `/api/token/${optedIn.id}/settings`, { enable_conversation_logging: true })
  plain = await t.mintToken({ name: 'plain' })
})
afterAll(() => t.close())

it('hostile strings among normal traffic: every request is stored, the strings well-formed', async () => {
  const openai = (token: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
  const anthropic = (token: string) => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
  const normal = Array.from({ length: 40 }, (_, i) =>
    i % 2 === 0
      ? openai(i % 4 === 0 ? optedIn.token : plain.token).chat.completions.create({ model: MODEL, user: `conv-${i}`, messages: [{ role: 'user', content: `question ${i}` }] })
      : anthropic(i % 4 === 1 ? optedIn.token : plain.token).messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: `question ${i}` }] }),
  )
  // Both from a token that logs conversations: its identifiers and text are kept as sent (after redaction).
  const surrogate = anthropic(optedIn.token).messages.create({
    model: 'claude-\ud800-bad',
    max_tokens: 20,
    system: 'system \ud800',
    metadata: { user_id: 'user-\ud800' },
    messages: [{ role: 'user', content: 'lone \udc00 low' }],
  })
  const emoji = openai(optedIn.token).chat.completions.create({ model: MODEL, user: EMOJI_USER, messages: [{ role: 'user', content: 'hello' }] })
  await Promise.all([...normal, surrogate, emoji].map((p) => p.catch(() => undefined)))
  expect(t.records).toHaveLength(42)

  const [logs] = await t.rows<{ n: string }>('SELECT count() AS n FROM request_logs')
  expect(Number(logs?.n)).toBe(42)
  const [conversations] = await t.rows<{ n: string }>('SELECT count() AS n FROM conversation_contents')
  expect(Number(conversations?.n)).toBe(t.records.filter((r) => r.content).length)
  const ids = await t.rows<{ conversation_id: string }>('SELECT conversation_id FROM request_logs WHERE token_id = {id:String}', { id: optedIn.id })
  const stored = ids.map((r) => r.conversation_id)
  // Cut before the emoji, never inside it; a lone surrogate becomes U+FFFD.
  expect(stored).toContain('a'.repeat(255))
  expect(stored).toContain('user-\uFFFD')
  const [conversation] = await t.rows<{ system_prompt: string; messages_json: string }>(
    "SELECT system_prompt, messages_json FROM conversation_contents WHERE conversation_id = 'user-\uFFFD'",
  )
  expect(conversation?.system_prompt).toBe('system \uFFFD')
  expect(readdirSync(join(t.gateway.config.data_dir, 'spool')).filter((f) => f === 'rejected')).toEqual([])
  const pipeline = await t.admin('GET', '/api/stats/pipeline')
  expect(pipeline.body).toMatchObject({ exporter: { rowsDropped: 0, conversationRowsDropped: 0, rowsWritten: 42 } })
})

it('a conversation over conversations.max_bytes is stored cut, with a marker, never dropped', async () => {
  const anthropic = new Anthropic({ baseURL: t.url, apiKey: optedIn.token, maxRetries: 0 })
  const long = 'ü'.repeat(150_000) // 300 KB of UTF-8
  await anthropic.messages.create({ model: MODEL, max_tokens: 20, system: 'Be brief.', metadata: { user_id: 'long-one' }, messages: [{ role: 'user', content: long }] })
  const [row] = await t.rows<{ system_prompt: string; messages_json: string; prompt: string; bytes: string }>(
    "SELECT system_prompt, messages_json, prompt, length(system_prompt) + length(messages_json) + length(prompt) + length(completion) + length(tool_calls) + length(tool_results) AS bytes FROM conversation_contents WHERE conversation_id = 'long-one'",
  )
  expect(row?.system_prompt).toBe('Be brief.')
  expect(row?.messages_json.endsWith(TRUNCATION_MARKER)).toBe(true)
  expect(row?.prompt.endsWith(TRUNCATION_MARKER)).toBe(true)
  expect(Number(row?.bytes)).toBeLessThanOrEqual(64 * 1024)
  expect(Number(row?.bytes)).toBeGreaterThan(60 * 1024)
})
