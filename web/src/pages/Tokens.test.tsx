import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { createMemoryHistory } from '@tanstack/react-router'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../app.tsx'
import type { Token } from '../api/types.ts'

const future = '2099-01-01T00:00:00.000Z'
const tokens: Token[] = [
  { id: 'tok-a', name: 'alice', mode: 'api', created_at: '2026-11-01T00:00:00.000Z', expires_at: future, is_valid: true, enable_conversation_logging: false, total_requests: 1234, total_tokens_used: 56789 },
  { id: 'tok-b', name: 'bob', mode: 'both', created_at: '2026-11-02T00:00:00.000Z', expires_at: future, last_used_at: '2026-11-29T10:00:00.000Z', is_valid: true, enable_conversation_logging: true, total_requests: 1, total_tokens_used: 2 },
]

/** The token API, keeping what the page wrote. */
function gateway() {
  const writes: Array<{ method: string; path: string; body: unknown }> = []
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const path = new URL(input, 'http://gateway.test').pathname
      const method = init?.method ?? 'GET'
      if (path === '/api/session') return json(200, { expires_at: future })
      if (method !== 'GET') {
        const body = JSON.parse(String(init?.body))
        writes.push({ method, path, body })
        if (path === '/api/token/tok-a/settings') tokens[0]!.enable_conversation_logging = body.enable_conversation_logging
        if (path === '/api/token/revoke') tokens.find((x) => x.id === body.id)!.revoked_at = '2026-11-30T00:00:00.000Z'
        return json(200, { message: 'ok' })
      }
      if (path === '/api/token/list') return json(200, { tokens: structuredClone(tokens) })
      return json(404, { error: 'not found' })
    }),
  )
  return writes
}

afterEach(() => vi.unstubAllGlobals())

describe('the tokens page', () => {
  it('lists tokens, switches conversation logging and revokes behind a confirmation', async () => {
    const writes = gateway()
    const { App, stop } = createApp({ history: createMemoryHistory({ initialEntries: ['/ui/tokens'] }) })
    render(<App />)
    const user = userEvent.setup()
    const alice = (await screen.findByRole('link', { name: 'alice' }, { timeout: 10_000 })).closest('tr')!
    expect(within(alice).getByText('Never')).toBeTruthy()
    expect(within(alice).getByText('Active')).toBeTruthy()
    expect(within(alice).getByText('1,234')).toBeTruthy()

    const logging = within(alice).getByRole('switch', { name: 'Conversation logging' })
    expect(logging.getAttribute('aria-checked')).toBe('false')
    await user.click(logging)
    await vi.waitFor(() => expect(writes).toEqual([{ method: 'PUT', path: '/api/token/tok-a/settings', body: { enable_conversation_logging: true } }]))
    await vi.waitFor(() => expect(logging.getAttribute('aria-checked')).toBe('true'))

    await user.click(within(alice).getByRole('button', { name: 'Revoke' }))
    const confirm = await screen.findByRole('alertdialog', { name: 'Revoke the token “alice”?' })
    await user.click(within(confirm).getByRole('button', { name: 'Cancel' }))
    expect(writes).toHaveLength(1) // cancelling revokes nothing

    await user.click(within(alice).getByRole('button', { name: 'Revoke' }))
    await user.click(within(await screen.findByRole('alertdialog')).getByRole('button', { name: 'Revoke' }))
    await vi.waitFor(() => expect(writes.at(-1)).toEqual({ method: 'POST', path: '/api/token/revoke', body: { id: 'tok-a' } }))
    await vi.waitFor(() => expect(within(screen.getByRole('link', { name: 'alice' }).closest('tr')!).getByText('Revoked')).toBeTruthy())
    expect(within(screen.getByRole('link', { name: 'alice' }).closest('tr')!).queryByRole('button', { name: 'Revoke' })).toBeNull()
    stop()
  })
})
