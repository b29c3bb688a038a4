import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { I18nProvider } from '../i18n/i18n.tsx'
import { TraceLink, traceHref } from './TraceLink.tsx'

const renderWith = (session: { expires_at: string; trace_url?: string }) => {
  const client = new QueryClient()
  client.setQueryData(['session'], session)
  return render(
    <QueryClientProvider client={client}>
      <I18nProvider>
        <TraceLink traceId="4bf92f3577b34da6a3ce929d0e0e4736" />
      </I18nProvider>
    </QueryClientProvider>,
  )
}

describe('TraceLink', () => {
  it('links the trace id into the viewer the gateway names, the id in place of {trace_id}', () => {
    renderWith({ expires_at: '2099-01-01T00:00:00Z', trace_url: 'https://tempo.example/trace/{trace_id}?from=ccproxy' })
    const link = screen.getByRole('link', { name: '4bf92f3577b34da6a3ce929d0e0e4736' })
    expect(link.getAttribute('href')).toBe('https://tempo.example/trace/4bf92f3577b34da6a3ce929d0e0e4736?from=ccproxy')
    expect(link.getAttribute('rel')).toContain('noopener')
    expect(screen.getByRole('button', { name: /copy/i })).toBeTruthy()
  })

  it('shows the id with a copy button only when no viewer is set', () => {
    renderWith({ expires_at: '2099-01-01T00:00:00Z' })
    expect(screen.queryByRole('link')).toBeNull()
    expect(screen.getByText('4bf92f3577b34da6a3ce929d0e0e4736')).toBeTruthy()
  })

  it('escapes what it puts into the URL', () => {
    expect(traceHref('https://v.example/?q={trace_id}', 'a b&c')).toBe('https://v.example/?q=a%20b%26c')
  })
})
