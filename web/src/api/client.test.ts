import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError, onUnauthorized, request } from './client.ts'

const answer = (status: number, body?: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

afterEach(() => vi.unstubAllGlobals())

describe('the admin API client', () => {
  it('sends the session cookie (same-origin) and the CSRF header, and the body as JSON', async () => {
    const fetch = vi.fn(async () => answer(200, { ok: true }))
    vi.stubGlobal('fetch', fetch)
    await api.put('/api/token/abc/settings', { enable_conversation_logging: true })
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/token/abc/settings')
    expect(init.method).toBe('PUT')
    expect(init.credentials).toBe('same-origin')
    expect((init.headers as Record<string, string>)['X-CCProxy-CSRF']).toBe('1')
    expect(init.body).toBe('{"enable_conversation_logging":true}')
  })

  it('leaves empty values out of the query string', async () => {
    const fetch = vi.fn(async () => answer(200, {}))
    vi.stubGlobal('fetch', fetch)
    await api.get('/api/logs/requests', { token_id: 't 1', model: '', success: false, status_code: undefined, page: 0 })
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe('/api/logs/requests?token_id=t+1&success=false&page=0')
  })

  it('tells the app when the session is gone (401) and rejects with the server message', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(401, { error: 'session expired' })))
    const seen: string[] = []
    const stop = onUnauthorized((e) => seen.push(e.message))
    await expect(api.get('/api/token/list')).rejects.toMatchObject({ status: 401, message: 'session expired' })
    stop()
    expect(seen).toEqual(['session expired'])
  })

  it('keeps a wrong key at sign-in to the form (no "session expired" round trip)', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => answer(401, { error: 'wrong admin key' })))
    const seen: string[] = []
    const stop = onUnauthorized((e) => seen.push(e.message))
    await expect(request('/api/session', { method: 'POST', body: { key: 'x' }, quiet401: true })).rejects.toMatchObject({ status: 401, message: 'wrong admin key' })
    stop()
    expect(seen).toEqual([])
  })

  it('reports an unreachable gateway as status 0, and a non-JSON error by its status line', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    await expect(api.get('/api/stats/realtime')).rejects.toEqual(new ApiError(0, 'network'))
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })))
    await expect(api.get('/api/stats/realtime')).rejects.toMatchObject({ status: 502, message: '502 Bad Gateway' })
  })
})
