import { describe, expect, it } from 'vitest'
import { logListQuery, usageDays, usageGranularity, usageQuery, validateConversationSearch, validateLogSearch, validateUsageSearch, withFilter } from './search.ts'

describe('request log URL state', () => {
  it('keeps valid filters, sort and page from the URL, typed', () => {
    const s = validateLogSearch({ token: 'tok-1', model: 'claude-sonnet-4-5', status: 'error', stream: true, from: '2026-11-01', to: '2026-11-30', sort: 'duration_ms', order: 'asc', page: 3, limit: 100 })
    expect(s).toEqual({ token: 'tok-1', model: 'claude-sonnet-4-5', status: 'error', stream: 'true', from: '2026-11-01', to: '2026-11-30', sort: 'duration_ms', order: 'asc', page: 3, limit: 100 })
  })

  it('drops what a hand-edited link gets wrong instead of failing', () => {
    const s = validateLogSearch({ token: "x' OR 1=1", status: 'maybe', code: 42, sort: 'secret', page: -1, limit: 7, from: '2026-13-40', order: 'sideways' })
    expect(s).toEqual({})
  })

  it('keeps only the start of a range whose end comes first', () => {
    expect(validateLogSearch({ from: '2026-11-30', to: '2026-11-01' })).toEqual({ from: '2026-11-30' })
  })

  it('maps the view to the API query: status to success, code to status_code, page 0-based', () => {
    expect(logListQuery({ token: 't', status: 'success', stream: 'false' })).toMatchObject({ token_id: 't', success: true, stream: 'false', page: 0, limit: 50 })
    expect(logListQuery({ code: 429, page: 2, limit: 25 })).toMatchObject({ status_code: 429, success: undefined, page: 2, limit: 25 })
  })

  it('goes back to the first page when a filter changes', () => {
    expect(withFilter({ model: 'a', page: 4 }, { model: 'b' })).toEqual({ model: 'b' })
    expect(withFilter({ model: 'a', page: 4 }, { model: undefined })).toEqual({})
  })
})

describe('conversation search URL state', () => {
  it('trims the search text and refuses overlong text', () => {
    expect(validateConversationSearch({ q: '  长城的历史 ', page: 1 })).toEqual({ q: '长城的历史', page: 1 })
    expect(validateConversationSearch({ q: 'x'.repeat(201) })).toEqual({})
  })
})

describe('usage range', () => {
  const today = '2026-11-30'
  it('turns presets into UTC days, 7 days by default', () => {
    expect(usageDays({}, today)).toEqual({ from: '2026-11-24', to: today })
    expect(usageDays({ range: 'today' }, today)).toEqual({ from: today, to: today })
    expect(usageDays({ range: '30d' }, today)).toEqual({ from: '2026-11-01', to: today })
    expect(usageDays({ range: 'custom', from: '2026-10-01', to: '2026-10-31' }, today)).toEqual({ from: '2026-10-01', to: '2026-10-31' })
  })

  it('keeps custom dates only with the custom preset', () => {
    expect(validateUsageSearch({ range: '7d', from: '2026-01-01' })).toEqual({ range: '7d' })
    expect(validateUsageSearch({ range: 'custom', from: '2026-01-01', to: '2026-01-31', granularity: 'hour' })).toEqual({ range: 'custom', from: '2026-01-01', to: '2026-01-31', granularity: 'hour' })
  })

  it('uses hours for one day, and never for ranges the API refuses hourly', () => {
    expect(usageGranularity({ range: 'today' }, today)).toBe('hour')
    expect(usageGranularity({ range: '7d' }, today)).toBe('day')
    expect(usageGranularity({ range: '7d', granularity: 'hour' }, today)).toBe('hour')
    expect(usageGranularity({ range: 'custom', from: '2026-01-01', to: '2026-03-01', granularity: 'hour' }, today)).toBe('day')
    expect(usageQuery({ range: '30d', granularity: 'hour' }, today)).toEqual({ from: '2026-11-01', to: today, granularity: 'hour' })
  })
})
