import { describe, expect, it } from 'vitest'
import { formatDuration, preview } from './format.ts'

describe('previews', () => {
  it('cuts at 100 characters with an ellipsis, counting CJK and emoji as one each', () => {
    expect(preview('a'.repeat(150))).toBe(`${'a'.repeat(100)}…`)
    expect(preview('长'.repeat(101))).toBe(`${'长'.repeat(100)}…`)
    expect(preview('😀'.repeat(100))).toBe('😀'.repeat(100))
  })

  it('flattens line breaks and keeps the ellipsis of a preview the server cut', () => {
    expect(preview('line one\n\nline two')).toBe('line one line two')
    expect(preview('short, cut by the server…')).toBe('short, cut by the server…')
  })
})

describe('durations', () => {
  it('reads as ms, seconds or minutes', () => {
    expect(formatDuration(183)).toBe('183 ms')
    expect(formatDuration(2345)).toBe('2.35 s')
    expect(formatDuration(125_000)).toBe('2 min 5 s')
    expect(formatDuration(null)).toBe('—')
  })
})
