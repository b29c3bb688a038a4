// Traffic through the gateway with the real SDKs, for the app to show: English and Chinese text, a system
// prompt, a tool call with its result, streaming, a thinking block, code, and failed requests.

import { expect } from 'vitest'
import type { TestGateway } from '../support/gateway.ts'
import { anthropicFor, openaiFor } from './app.ts'

export const MODEL = 'claude-sonnet-4-6'

/** What the conversations hold, to be found again in the app. */
export const SEEN = {
  englishWord: 'kingfisher',
  englishPrompt: 'Where do birds like that nest? Check the weather in Oslo first.',
  // the last user turn is what is searched (with the answer): the English word is there
  englishFollowUp: 'Thanks. So where does the kingfisher nest?',
  system: 'You are a meticulous ornithologist. Answer in one short sentence.',
  toolName: 'get_weather',
  toolResult: 'Sunny, 21 °C, light wind',
  answerTool: 'lookup_bird',
  chinesePhrase: '长城的历史',
  chinesePrompt: '请简单介绍一下长城的历史，三句话就够了。',
  hamletPrompt: 'Summarize the plot of Hamlet in two lines.',
  thinking: 'The user wants a number. Seventeen times three is fifty-one.',
  thinkingFollowUp: 'And that times 4?',
} as const

/** The flow's traffic for one token: four conversations (one streamed) and one refused request. */
export async function sendFlowTraffic(t: TestGateway, token: string): Promise<void> {
  const anthropic = anthropicFor(t, token)
  const openai = openaiFor(t, token)

  // A system prompt, a tool call the client made earlier with its result, and an answer that calls a tool.
  t.upstream.enqueue({
    kind: 'reply',
    content: [
      { type: 'text', text: 'Kingfishers nest in burrows dug into river banks; Oslo is sunny, so go look.' },
      { type: 'tool_use', name: SEEN.answerTool, input: { species: 'Alcedo atthis', fields: ['habitat', 'diet'] } },
    ],
  })
  const withTools = await anthropic.messages.create({
    model: MODEL,
    max_tokens: 300,
    system: SEEN.system,
    tools: [
      { name: SEEN.toolName, description: 'Current weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      { name: SEEN.answerTool, description: 'Facts about a bird', input_schema: { type: 'object', properties: { species: { type: 'string' } } } },
    ],
    messages: [
      { role: 'user', content: SEEN.englishPrompt },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_e2e_weather', name: SEEN.toolName, input: { city: 'Oslo' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_e2e_weather', content: SEEN.toolResult },
          { type: 'text', text: SEEN.englishFollowUp },
        ],
      },
    ],
  })
  expect(withTools.stop_reason).toBe('tool_use')

  // Chinese, streamed through the OpenAI dialect.
  t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: '长城始建于春秋战国时期，秦朝把各段连了起来，明朝又大规模重修。' }] })
  const stream = await openai.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: 'user', content: SEEN.chinesePrompt }] })
  let chinese = ''
  for await (const chunk of stream) chinese += chunk.choices[0]?.delta?.content ?? ''
  expect(chinese).toContain('长城')

  // A system message through the OpenAI dialect; markdown with a code block in the answer.
  t.upstream.enqueue({
    kind: 'reply',
    content: [{ type: 'text', text: 'Prince Hamlet avenges his father and dies doing it.\n\n```python\nprint("to be or not to be")\n```' }],
  })
  await openai.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'system', content: 'You are a concise literature tutor.' },
      { role: 'user', content: SEEN.hamletPrompt },
    ],
  })

  // A follow-up that sends back the earlier turn's thinking block, as Claude Code does.
  t.upstream.enqueue({
    kind: 'reply',
    content: [
      { type: 'thinking', thinking: 'Fifty-one times four is two hundred and four.' },
      { type: 'text', text: '51 × 4 = 204.' },
    ],
  })
  await anthropic.messages.create({
    model: MODEL,
    max_tokens: 2000,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [
      { role: 'user', content: 'What is 17 times 3?' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: SEEN.thinking, signature: 'c2lnbmF0dXJl' },
          { type: 'text', text: '17 × 3 = 51.' },
        ],
      },
      { role: 'user', content: SEEN.thinkingFollowUp },
    ],
  })

  // Refused upstream: a failed row for the status filter.
  t.upstream.enqueue({ kind: 'error', status: 400, message: 'messages: roles must alternate' })
  await expect(anthropic.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'one more' }] })).rejects.toMatchObject({ status: 400 })
}

/** Plain traffic for another token: successes on two models, and a failure. */
export async function sendBackgroundTraffic(t: TestGateway, token: string, n = 4): Promise<void> {
  const openai = openaiFor(t, token)
  for (let i = 0; i < n; i++) {
    await openai.chat.completions.create({ model: i % 2 ? 'claude-opus-4-8' : 'claude-haiku-4-5-20251001', messages: [{ role: 'user', content: `Background request number ${i + 1}` }] })
  }
  t.upstream.enqueue({ kind: 'error', status: 400, message: 'bad request' })
  await expect(openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'failing' }] })).rejects.toMatchObject({ status: 400 })
}

/** Waits until every finished exchange is in ClickHouse (the app reads only what was written). */
export async function flushed(t: TestGateway): Promise<void> {
  await t.gateway.exporter.forceFlush()
}
