import { describe, expect, it } from 'vitest'
import { SseParser } from '../src/gateway/sse.ts'
import { Exchange, mergeUsage, emptyUsage } from '../src/record/exchange.ts'
import { CredentialBox, secretsEqual } from '../src/secrets.ts'

describe('SSE parser', () => {
  it('yields whole events however the bytes are split', () => {
    const text = 'event: message_start\ndata: {"a":1}\n\n: comment\nevent: ping\r\ndata: {"type":"ping"}\r\n\r\ndata: line1\ndata: line2\n\n'
    for (const size of [1, 3, 7, text.length]) {
      const parser = new SseParser()
      const events = []
      for (let i = 0; i < text.length; i += size) events.push(...parser.push(Buffer.from(text.slice(i, i + size))))
      expect(events).toEqual([
        { event: 'message_start', data: '{"a":1}' },
        { event: 'ping', data: '{"type":"ping"}' },
        { event: 'message', data: 'line1\nline2' },
      ])
    }
  })

  it('decodes multi-byte characters split across chunks', () => {
    const bytes = Buffer.from('data: 你好\n\n')
    const parser = new SseParser()
    const events = [...parser.push(bytes.subarray(0, 8)), ...parser.push(bytes.subarray(8))]
    expect(events).toEqual([{ event: 'message', data: '你好' }])
  })
})

describe('usage from a stream', () => {
  it('takes the latest cumulative values and keeps message_start input counts when message_delta omits them', () => {
    const exchange = new Exchange('messages')
    exchange.observeEvent('message_start', {
      message: { id: 'msg_1', model: 'claude-x', usage: { input_tokens: 43, cache_read_input_tokens: 10, cache_creation_input_tokens: 0, output_tokens: 1 } },
    })
    exchange.observeEvent('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 20 } })
    expect(exchange.usage).toEqual({ input_tokens: 43, output_tokens: 20, cache_read_input_tokens: 10, cache_creation_input_tokens: 0 })
    exchange.observeEvent('message_delta', { delta: {}, usage: { input_tokens: 61, output_tokens: 25, cache_read_input_tokens: null } })
    expect(exchange.usage).toEqual({ input_tokens: 61, output_tokens: 25, cache_read_input_tokens: 10, cache_creation_input_tokens: 0 })
    expect(exchange).toMatchObject({ responseId: 'msg_1', responseModel: 'claude-x', stopReason: 'end_turn' })
  })

  it('records a mid-stream error', () => {
    const exchange = new Exchange('messages')
    exchange.statusCode = 200
    exchange.observeEvent('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })
    expect(exchange.success).toBe(false)
    expect(exchange.errorType).toBe('overloaded_error')
  })

  it('mergeUsage ignores missing reports', () => {
    expect(mergeUsage(emptyUsage(), undefined)).toEqual(emptyUsage())
  })
})

describe('secrets', () => {
  it('seals credentials with AES-GCM and opens them only with the same secret', () => {
    const box = new CredentialBox('secret-one')
    const sealed = box.seal('{"api_key":"sk-ant-api03-abc"}')
    expect(sealed).not.toContain('sk-ant')
    expect(box.seal('same')).not.toBe(box.seal('same'))
    expect(box.open(sealed)).toBe('{"api_key":"sk-ant-api03-abc"}')
    expect(() => new CredentialBox('secret-two').open(sealed)).toThrow()
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA')
    expect(() => box.open(tampered)).toThrow()
  })

  it('compares secrets exactly', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true)
    expect(secretsEqual('abc', 'abd')).toBe(false)
    expect(secretsEqual('abc', 'abcd')).toBe(false)
    expect(secretsEqual('', 'abc')).toBe(false)
  })
})
