import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { createMemoryHistory } from '@tanstack/react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from './app.tsx'
import type { Usage } from './api/types.ts'

const stats = { request_count: 3, success_count: 2, error_count: 1, total_prompt_tokens: 10, total_completion_tokens: 20, total_tokens: 30, total_cache_creation_tokens: 0, total_cache_read_tokens: 0, avg_duration_ms: 120, avg_ttft_ms: 50, success_rate: 66.7 }
const usage = (from: string, to: string): Usage => ({ from_date: from, to_date: to, granularity: 'day', totals: stats, trend: [], by_model: [{ model: 'claude-sonnet-4-5', ...stats }], by_token: [], by_account: [] })

/** A gateway whose session can end: what the app sees of the admin API over fetch. */
function gateway() {
  const state = { signedIn: false, keysTried: [] as string[], expiresAt: '2099-01-01T00:00:00Z', refusal: 'session expired' }
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  const fetch = vi.fn(async (input: string, init?: RequestInit) => {
    const url = new URL(input, 'http://gateway.test')
    if (url.pathname === '/api/session' && init?.method === 'POST') {
      const { key } = JSON.parse(String(init.body)) as { key: string }
      state.keysTried.push(key)
      if (key !== 'right-admin-key') return json(401, { error: 'wrong admin key' })
      state.signedIn = true
      return new Response(null, { status: 204 })
    }
    if (!state.signedIn) return json(401, { error: state.refusal })
    if (url.pathname === '/api/session') return json(200, { expires_at: state.expiresAt })
    if (url.pathname === '/api/stats/usage') return json(200, usage(url.searchParams.get('from') ?? '', url.searchParams.get('to') ?? ''))
    return json(404, { error: 'not found' })
  })
  vi.stubGlobal('fetch', fetch)
  return state
}

afterEach(() => vi.unstubAllGlobals())

describe('sign-in and the session', () => {
  it('signs in with the admin key, says so when it is wrong, and returns to the page after an expired session', async () => {
    const state = gateway()
    const { App, router, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/usage?range=30d'] }) })
    render(<App />)
    const user = userEvent.setup()

    // no session: sign-in first, remembering where the user was going
    const key = await screen.findByLabelText('Admin key')
    expect(key.getAttribute('type')).toBe('password')
    await user.type(key, 'wrong-admin-key')
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong admin key. Check it and try again.')

    await user.clear(key)
    await user.type(key, 'right-admin-key')
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('heading', { name: 'Usage' }, { timeout: 10_000 })).toBeTruthy()
    expect(router.state.location.search).toEqual({ range: '30d' })
    expect(await screen.findByText('claude-sonnet-4-5', {}, { timeout: 10_000 })).toBeTruthy()

    // the session ends on the server; the next call sends the user to sign-in, then back to the same view
    state.signedIn = false
    await user.click(screen.getByRole('button', { name: 'Today' }))
    expect(await screen.findByText('Your session expired. Sign in again to continue.', {}, { timeout: 10_000 })).toBeTruthy()
    await user.type(screen.getByLabelText('Admin key'), 'right-admin-key')
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('heading', { name: 'Usage' }, { timeout: 10_000 })).toBeTruthy()
    expect(router.state.location.pathname).toBe('/usage')
    expect(router.state.location.search).toEqual({ range: 'today' })

    // the key went to the server only, never into storage
    expect(state.keysTried).toEqual(['wrong-admin-key', 'right-admin-key', 'right-admin-key'])
    expect(JSON.stringify({ ...localStorage })).not.toContain('right-admin-key')
    stop()
  })

  it('says the session expired when a 401 comes after the expiry the gateway announced, even without its word for it', async () => {
    const state = gateway()
    // the browser drops the cookie at its Max-Age: the gateway then only knows there is no session
    state.refusal = 'invalid or missing admin key'
    state.signedIn = true
    state.expiresAt = new Date(Date.now() + 400).toISOString()
    const { App, router, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/usage?range=30d'] }) })
    render(<App />)
    const user = userEvent.setup()
    expect(await screen.findByText('claude-sonnet-4-5', {}, { timeout: 10_000 })).toBeTruthy()

    await new Promise((resolve) => setTimeout(resolve, 500))
    state.signedIn = false
    await user.click(screen.getByRole('button', { name: 'Today' }))
    expect(await screen.findByText('Your session expired. Sign in again to continue.', {}, { timeout: 10_000 })).toBeTruthy()
    expect(router.state.location.search).toMatchObject({ reason: 'expired', redirect: '/ui/usage?range=today' })
    stop()
  })

  it('a 401 before the announced expiry is not called an expired session', async () => {
    const state = gateway()
    state.refusal = 'invalid or missing admin key'
    state.signedIn = true
    const { App, router, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/usage?range=30d'] }) })
    render(<App />)
    const user = userEvent.setup()
    expect(await screen.findByText('claude-sonnet-4-5', {}, { timeout: 10_000 })).toBeTruthy()

    state.signedIn = false // ended elsewhere (signed out in another tab, gateway restarted)
    await user.click(screen.getByRole('button', { name: 'Today' }))
    expect(await screen.findByLabelText('Admin key', {}, { timeout: 10_000 })).toBeTruthy()
    expect(router.state.location.search).toEqual({ redirect: '/ui/usage?range=today' })
    expect(screen.queryByText('Your session expired. Sign in again to continue.')).toBeNull()
    stop()
  })

  it('shows a clear message and Retry when the gateway cannot be reached', async () => {
    let up = false
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string) => {
        if (!up) throw new TypeError('Failed to fetch')
        const path = new URL(input, 'http://gateway.test').pathname
        return new Response(JSON.stringify(path === '/api/session' ? { expires_at: '2099-01-01T00:00:00Z' } : usage('2026-11-24', '2026-11-30')), { status: 200, headers: { 'content-type': 'application/json' } })
      }),
    )
    const { App, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/usage'] }) })
    render(<App />)
    const alert = await screen.findByRole('alert', {}, { timeout: 10_000 })
    expect(alert.textContent).toContain('The gateway cannot be reached')
    up = true
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }))
    expect(await screen.findByRole('heading', { name: 'Usage' }, { timeout: 10_000 })).toBeTruthy()
    stop()
  })
})
