import { queryOptions } from '@tanstack/react-query'
import { api, request, type ApiError } from './client.ts'

// When the session ends, as GET /api/session said. The cookie lives exactly as long as the session, so once it
// is over the browser has dropped it and the gateway can no longer answer "session expired": the app tells an
// expired session by the time. Kept in localStorage (a time, not a secret) so a reload or another tab knows it.
const EXPIRY_KEY = 'ccproxy.session-expires-at'

function rememberExpiry(expiresAt: string | undefined): void {
  try {
    if (expiresAt) localStorage.setItem(EXPIRY_KEY, expiresAt)
    else localStorage.removeItem(EXPIRY_KEY)
  } catch {
    // storage refused (private mode): a 401 then reads as signed out
  }
}

/** Whether a 401 means the session ran out, rather than that there never was one or it was ended. */
export function sessionExpired(error: ApiError, now = Date.now()): boolean {
  if (error.message === 'session expired') return true
  let expiresAt = Number.NaN
  try {
    expiresAt = Date.parse(localStorage.getItem(EXPIRY_KEY) ?? '')
  } catch {
    // no storage: judged by the gateway's message alone
  }
  return now >= expiresAt
}

export const sessionQuery = queryOptions({
  queryKey: ['session'],
  // a 401 here just means "not signed in": the route guard sends the user to sign-in
  queryFn: async () => {
    const session = await request<{ expires_at: string; trace_url?: string }>('/api/session', { quiet401: true })
    rememberExpiry(session.expires_at)
    return session
  },
  staleTime: Infinity,
  retry: false,
})

/** Exchanges the admin key for a session cookie; a wrong key is a 401 here, not an expired session. */
export const signIn = (key: string) => request<void>('/api/session', { method: 'POST', body: { key }, quiet401: true })

export async function signOut(): Promise<void> {
  rememberExpiry(undefined)
  await api.delete<void>('/api/session')
}

/** Where sign-in returns to: a page of this app only (never another site). */
export function safeRedirect(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  return /^\/ui(\/|$|\?)/.test(value) && !value.startsWith('//') && !value.includes('\\') ? value : undefined
}
