import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client.ts'
import { I18nProvider } from '../i18n/i18n.tsx'
import { ErrorState, Loading } from './QueryState.tsx'

const show = (error: unknown) =>
  render(
    <I18nProvider language="en">
      <ErrorState error={error} onRetry={() => {}} />
    </I18nProvider>,
  )

describe('load states', () => {
  it('offers Retry when asking again can help: unreachable, server errors, rate limits', () => {
    for (const error of [new ApiError(0, 'network'), new ApiError(503, 'ClickHouse is unavailable'), new ApiError(429, 'slow down')]) {
      const { unmount } = show(error)
      expect(screen.getByRole('button', { name: 'Retry' })).toBeTruthy()
      unmount()
    }
  })

  it('does not offer Retry for a request the API refused as it stands', () => {
    show(new ApiError(404, 'conversation not found'))
    expect(screen.getByRole('alert').textContent).toContain('conversation not found')
    expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull()
  })

  it('marks the loading state busy for assistive technology', () => {
    render(
      <I18nProvider language="en">
        <Loading />
      </I18nProvider>,
    )
    expect(screen.getByRole('status').getAttribute('aria-busy')).toBe('true')
  })
})
