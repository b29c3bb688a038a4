import { describe, expect, it } from 'vitest'
import { readConversation, splitFences } from './conversation.ts'

const stored = (messages: unknown[], extra: Partial<{ system_prompt: string; completion: string; tool_calls: string }> = {}) => ({
  system_prompt: '',
  messages_json: JSON.stringify(messages),
  completion: '',
  tool_calls: '[]',
  ...extra,
})

describe('reading a stored conversation', () => {
  it('reads Anthropic blocks: thinking, tool_use, tool_result, stored and unstored images; then the answer', () => {
    const read = readConversation(
      stored(
        [
          { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
          { role: 'assistant', content: [{ type: 'thinking', thinking: 'let me see' }, { type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'text', text: 'Sunny' }] }, { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '[media not stored: image/jpeg, 1234 bytes]' } }] },
        ],
        { system_prompt: 'Be brief.', completion: 'It is sunny.', tool_calls: JSON.stringify([{ id: 'tu_2', name: 'lookup', input: { q: 1 } }]) },
      ),
    )
    expect(read.system).toBe('Be brief.')
    expect(read.messages.map((m) => [m.role, m.answer ?? false])).toEqual([
      ['user', false],
      ['assistant', false],
      ['user', false],
      ['assistant', true],
    ])
    expect(read.messages[0]!.blocks[1]).toEqual({ kind: 'image', src: 'data:image/png;base64,iVBORw0KGgo=', mediaType: 'image/png' })
    expect(read.messages[1]!.blocks).toEqual([
      { kind: 'thinking', text: 'let me see', redacted: false },
      { kind: 'tool_call', id: 'tu_1', name: 'get_weather', input: { city: 'Oslo' }, n: 1 },
    ])
    expect(read.messages[2]!.blocks[0]).toEqual({ kind: 'tool_result', toolUseId: 'tu_1', content: 'Sunny', isError: false })
    expect(read.messages[2]!.blocks[1]).toMatchObject({ kind: 'image', note: '[media not stored: image/jpeg, 1234 bytes]' })
    expect(read.messages[3]!.blocks).toEqual([
      { kind: 'text', text: 'It is sunny.' },
      { kind: 'tool_call', id: 'tu_2', name: 'lookup', input: { q: 1 }, n: 2 },
    ])
  })

  it('reads OpenAI messages: system apart, tool_calls with JSON arguments, tool messages as results', () => {
    const read = readConversation(
      stored(
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: [{ type: 'text', text: 'weather?' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
        ],
        { system_prompt: 'Be brief.' },
      ),
    )
    expect(read.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool'])
    expect(read.messages[0]!.blocks[1]).toEqual({ kind: 'image', url: 'https://example.com/a.png' })
    expect(read.messages[1]!.blocks).toEqual([{ kind: 'tool_call', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' }, n: 1 }])
    expect(read.messages[2]!.blocks).toEqual([{ kind: 'tool_result', toolUseId: 'call_1', content: 'Sunny', isError: false }])
  })

  it('shows unreadable stored messages raw instead of nothing', () => {
    expect(readConversation(stored([]))).toEqual({ system: '', messages: [] })
    expect(readConversation({ ...stored([]), messages_json: '{not json' }).unreadable).toBe('{not json')
  })
})

describe('code fences', () => {
  it('splits prose and code, keeping the language', () => {
    expect(splitFences('Try this:\n```python\nprint(1)\n```\nDone.')).toEqual([
      { kind: 'text', text: 'Try this:' },
      { kind: 'code', language: 'python', code: 'print(1)' },
      { kind: 'text', text: 'Done.' },
    ])
  })

  it('runs an unclosed fence to the end, and leaves text without fences alone', () => {
    expect(splitFences('```\na\nb')).toEqual([{ kind: 'code', code: 'a\nb' }])
    expect(splitFences('no code here')).toEqual([{ kind: 'text', text: 'no code here' }])
  })
})
