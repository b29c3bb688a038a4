// The admin API as the app calls it: same-origin, with the session cookie and the CSRF header the gateway
// asks of cookie-authenticated writes. A 401 means the session is gone; listeners send the user to sign-in.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

type Listener = (error: ApiError) => void
const unauthorizedListeners = new Set<Listener>()

/** Called with every 401 from an API call other than the sign-in itself. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener)
  return () => unauthorizedListeners.delete(listener)
}

export type Query = Record<string, string | number | boolean | undefined | null>

/** `path?query` without the empty values (the API treats '' as absent, but short URLs read better). */
export function withQuery(path: string, query?: Query): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue
    params.set(key, String(value))
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  query?: Query
  body?: unknown
  /** the sign-in call: its 401 is a wrong key, not an expired session */
  quiet401?: boolean
  signal?: AbortSignal
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`.trim()
  try {
    const body = (await res.json()) as { error?: unknown }
    if (typeof body?.error === 'string') message = body.error
  } catch {
    // not JSON (a proxy's error page): keep the status line
  }
  return new ApiError(res.status, message)
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { 'X-CCProxy-CSRF': '1', accept: 'application/json' }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(withQuery(path, options.query), {
      method: options.method ?? 'GET',
      credentials: 'same-origin',
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    })
  } catch (cause) {
    if ((cause as Error)?.name === 'AbortError') throw cause
    // fetch rejects only when the server could not be reached at all
    throw new ApiError(0, 'network')
  }
  if (!res.ok) {
    const error = await errorOf(res)
    if (res.status === 401 && !options.quiet401) for (const listener of unauthorizedListeners) listener(error)
    throw error
  }
  if (res.status === 204) return undefined as T
  const type = res.headers.get('content-type') ?? ''
  return (type.includes('json') ? await res.json() : await res.text()) as T
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>(path, { query, ...(signal ? { signal } : {}) }),
  post: <T>(path: string, body?: unknown) => request<T>(path, { method: 'POST', body: body ?? {} }),
  put: <T>(path: string, body: unknown) => request<T>(path, { method: 'PUT', body }),
  delete: <T>(path: string) => request<T>(path, { method: 'DELETE' }),
}
