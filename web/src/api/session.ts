import { queryOptions } from '@tanstack/react-query'
import { api, request } from './client.ts'

export const sessionQuery = queryOptions({
  queryKey: ['session'],
  // a 401 here just means "not signed in": the route guard sends the user to sign-in
  queryFn: () => request<{ expires_at: string }>('/api/session', { quiet401: true }),
  staleTime: Infinity,
  retry: false,
})

/** Exchanges the admin key for a session cookie; a wrong key is a 401 here, not an expired session. */
export const signIn = (key: string) => request<void>('/api/session', { method: 'POST', body: { key }, quiet401: true })

export const signOut = () => api.delete<void>('/api/session')

/** Where sign-in returns to: a page of this app only (never another site). */
export function safeRedirect(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  return /^\/ui(\/|$|\?)/.test(value) && !value.startsWith('//') && !value.includes('\\') ? value : undefined
}
