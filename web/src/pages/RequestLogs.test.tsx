import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { createMemoryHistory } from '@tanstack/react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../app.tsx'
import type { RequestLog } from '../api/types.ts'

const log = (i: number): RequestLog =>
  ({ id: `00000000-0000-4000-8000-00000000000${i}`, token_id: 'tok-a', account_id: 'acc', user_name: 'alice', mode: 'api', model: 'claude-sonnet-4-5', stream: false, request_at: `2026-11-30T10:0${i}:00.000Z`, response_at: `2026-11-30T10:0${i}:01.000Z`, duration_ms: 100 * i, ttft_ms: 50, prompt_tokens: i, completion_tokens: i, total_tokens: 2 * i, status_code: 500, success: false, error_message: `upstream failed ${i}`, conversation_id: '', endpoint: 'messages', response_model: '', error_type: 'api_error', stop_reason: '', cache_creation_tokens: 0, cache_read_tokens: 0, retries: 0, client_ip: '127.0.0.1', user_agent: 'test', upstream_request_id: '', has_content: false, trace_id: '', span_id: '' }) as RequestLog

/** The admin API as the log page calls it; every list query is kept to compare with the URL. */
function gateway() {
  const listQueries: URLSearchParams[] = []
  const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string) => {
      const url = new URL(input, 'http://gateway.test')
      switch (url.pathname) {
        case '/api/session':
          return json({ expires_at: '2099-01-01T00:00:00Z' })
        case '/api/logs/requests':
          listQueries.push(url.searchParams)
          return json({ logs: [log(1), log(2), log(3)], total: 130, page: Number(url.searchParams.get('page')), limit: Number(url.searchParams.get('limit')) })
        case '/api/token/list':
          return json({ tokens: [{ id: 'tok-a', name: 'alice' }] })
        case '/api/account/list':
          return json([])
        case '/api/stats/usage':
          return json({ by_model: [{ model: 'claude-sonnet-4-5' }, { model: 'claude-opus-4-1' }] })
        default:
          if (url.pathname.startsWith('/api/logs/requests/')) return json(log(Number(url.pathname.slice(-1))))
          return new Response('{"error":"not found"}', { status: 404 })
      }
    }),
  )
  return { lastQuery: () => Object.fromEntries(listQueries.at(-1) ?? []) }
}

afterEach(() => vi.unstubAllGlobals())

describe('request logs: the view lives in the URL', () => {
  it('asks the server for what the URL holds, and writes every change back to the URL', async () => {
    const api = gateway()
    const { App, router, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/requests?status=error&sort=duration_ms&order=asc&page=1'] }) })
    render(<App />)
    const user = userEvent.setup()
    await screen.findAllByRole('link', { name: /^Open request/ }, { timeout: 10_000 })
    expect(api.lastQuery()).toMatchObject({ success: 'false', sort: 'duration_ms', order: 'asc', page: '1', limit: '50' })
    expect(screen.getByRole('columnheader', { name: /Duration/ }).getAttribute('aria-sort')).toBe('ascending')
    expect(screen.getByText('51–100 of 130')).toBeTruthy()

    // a filter change goes to the URL and starts again at the first page
    await user.selectOptions(await screen.findByLabelText('Model'), 'claude-opus-4-1')
    await vi.waitFor(() => expect(router.state.location.search).toEqual({ status: 'error', sort: 'duration_ms', order: 'asc', model: 'claude-opus-4-1' }))
    await vi.waitFor(() => expect(api.lastQuery()).toMatchObject({ model: 'claude-opus-4-1', page: '0' }))

    // sorting by another column
    await user.click(within(screen.getByRole('columnheader', { name: /Tokens/ })).getByRole('button'))
    await vi.waitFor(() => expect(router.state.location.search).toMatchObject({ sort: 'total_tokens', order: 'desc' }))

    // j opens the first row's panel at /requests/<id>, keeping the view; Esc closes it
    await user.keyboard('j')
    expect(await screen.findByRole('heading', { name: 'Request details' })).toBeTruthy()
    expect(router.state.location.pathname).toBe(`/requests/${log(1).id}`)
    expect(router.state.location.search).toMatchObject({ model: 'claude-opus-4-1', sort: 'total_tokens' })
    expect(await screen.findByText('upstream failed 1')).toBeTruthy()
    await user.keyboard('j')
    await vi.waitFor(() => expect(router.state.location.pathname).toBe(`/requests/${log(2).id}`))
    await user.keyboard('{Escape}')
    await vi.waitFor(() => expect(router.state.location.pathname).toBe('/requests'))
    expect(screen.queryByRole('heading', { name: 'Request details' })).toBeNull()
    stop()
  })

  it('keeps one line a row beside the detail panel: fewer columns, long names cut with the whole value in a title', async () => {
    gateway()
    const { App, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/requests'] }) })
    render(<App />)
    await screen.findAllByRole('link', { name: /^Open request/ }, { timeout: 10_000 })
    const headers = () => screen.getAllByRole('columnheader').map((h) => h.textContent?.replace(/[▲▼↕]/g, '').trim())
    expect(headers()).toEqual(['Time', 'Token', 'Model', 'Status', 'Stream', 'Duration', 'In', 'Out', 'Tokens'])
    const model = within(screen.getAllByRole('row')[1]!).getByTitle('claude-sonnet-4-5')
    expect(model.className).toBe('clip')

    await userEvent.setup().keyboard('j')
    expect(await screen.findByRole('heading', { name: 'Request details' })).toBeTruthy()
    // the panel lists stream and the token counts itself
    expect(headers()).toEqual(['Time', 'Token', 'Model', 'Status', 'Duration', 'Tokens'])
    stop()
  })

  it('turns a hand-edited URL into a valid view instead of an error', async () => {
    const api = gateway()
    const { App, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/requests?page=-3&sort=password&limit=7&status=maybe&token=tok-a'] }) })
    render(<App />)
    await screen.findAllByRole('link', { name: /^Open request/ }, { timeout: 10_000 })
    // only the valid part reaches the server
    expect(api.lastQuery()).toEqual({ token_id: 'tok-a', page: '0', limit: '50' })
    expect((screen.getByLabelText('Token') as HTMLSelectElement).value).toBe('tok-a')
    expect(screen.getByRole('columnheader', { name: /Time/ }).getAttribute('aria-sort')).toBe('descending')
    stop()
  })
})
