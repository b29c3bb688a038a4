import { describe, expect, it } from 'vitest'
import { cutText, cutUtf8, wellFormed } from '../src/record/text.ts'
import { boundedContent, TRUNCATION_MARKER } from '../src/record/build.ts'
import type { ConversationContent } from '../src/record/request-record.ts'

const isWellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)

describe('wellFormed', () => {
  it.each([
    ['plain', 'plain'],
    ['claude-\ud800-bad', 'claude-\uFFFD-bad'],
    ['low first \udc00', 'low first \uFFFD'],
    ['reversed \ude00\ud83d', 'reversed \uFFFD\uFFFD'],
    ['emoji 😀 kept', 'emoji 😀 kept'],
    ['ends high \ud83d', 'ends high \uFFFD'],
  ])('%j → %j', (input, output) => {
    expect(wellFormed(input)).toBe(output)
    // the same again: no state kept between calls
    expect(wellFormed(input)).toBe(output)
  })
})

describe('cutText', () => {
  it('never cuts a character in half: 255 × a + 😀 cut at 256 keeps the a’s only', () => {
    const user = 'a'.repeat(255) + '😀'
    expect(user.slice(0, 256)).not.toSatisfy(isWellFormed)
    expect(cutText(user, 256)).toBe('a'.repeat(255))
    expect(cutText(user, 257)).toBe(user)
    expect(cutText('😀😀', 3)).toBe('😀')
    expect(cutText('short', 256)).toBe('short')
    expect(cutText('lone \ud800 inside', 256)).toBe('lone \uFFFD inside')
  })
})

describe('cutUtf8', () => {
  it('cuts between characters, within the byte budget', () => {
    expect(cutUtf8('héllo', 2)).toBe('h') // é is two bytes
    expect(cutUtf8('héllo', 3)).toBe('hé')
    expect(cutUtf8('😀😀', 5)).toBe('😀')
    expect(cutUtf8('abc', 10)).toBe('abc')
    for (let n = 0; n < 20; n++) {
      const cut = cutUtf8('ü😀€a'.repeat(3), n)
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(n)
      expect(cut).toSatisfy(isWellFormed)
    }
  })
})

describe('boundedContent (conversations.max_bytes)', () => {
  const content = (messages: string): ConversationContent => ({
    system_prompt: 'Be exact.',
    messages_json: messages,
    prompt: 'last question',
    completion: 'an answer ü',
    tool_calls: '[]',
    tool_results: '[]',
  })

  it('keeps a conversation under the cap as it is', () => {
    const c = content('x'.repeat(1000))
    expect(boundedContent(c, 64 * 1024)).toBe(c)
  })

  it('cuts the large fields of one over the cap, each marked; the small ones stay whole', () => {
    const c = { ...content('😀'.repeat(200_000)), completion: 'é'.repeat(100_000) }
    const cut = boundedContent(c, 64 * 1024)
    const bytes = Object.values(cut).reduce((sum, text) => sum + Buffer.byteLength(text), 0)
    expect(bytes).toBeLessThanOrEqual(64 * 1024)
    expect(cut).toMatchObject({ system_prompt: 'Be exact.', prompt: 'last question', tool_calls: '[]', tool_results: '[]' })
    for (const field of [cut.messages_json, cut.completion]) {
      expect(field.endsWith(TRUNCATION_MARKER)).toBe(true)
      expect(field).toSatisfy(isWellFormed)
      expect(Buffer.byteLength(field)).toBeGreaterThan(30 * 1024)
    }
  })
})
