import type { ReactNode } from 'react'
import { ApiError } from '../api/client.ts'
import { useI18n, type Translate } from '../i18n/i18n.tsx'

export function errorText(error: unknown, t: Translate): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return t('state.network')
    if (error.status === 404) return t('state.notFound', { message: error.message })
    return t('state.server', { message: error.message })
  }
  return t('state.server', { message: error instanceof Error ? error.message : String(error) })
}

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n()
  return (
    <div className="state state-loading" role="status" aria-live="polite" aria-busy="true">
      <span className="spinner" aria-hidden="true" />
      {label ?? t('state.loading')}
    </div>
  )
}

/** Whether asking again can help: not for a request the API refused as it stands (a bad or unknown id). */
const retryable = (error: unknown) => !(error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429)

/** A failed load: what went wrong, in words, and a way to try again when that can help — never a blank page. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n()
  return (
    <div className="state state-error" role="alert">
      <strong>{t('state.errorTitle')}</strong>
      <p>{errorText(error, t)}</p>
      {onRetry && retryable(error) && (
        <button type="button" className="button" onClick={onRetry}>
          {t('state.retry')}
        </button>
      )}
    </div>
  )
}

export function Empty({ children, action }: { children: ReactNode; action?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p>{children}</p>
      {action}
    </div>
  )
}

interface QueryLike<T> {
  data: T | undefined
  error: unknown
  isPending: boolean
  isError: boolean
  refetch: () => unknown
}

/** Loading, error (with Retry) or the content of one query. Kept data stays visible while it refetches. */
export function QueryState<T>({ query, children }: { query: QueryLike<T>; children: (data: T) => ReactNode }) {
  if (query.data !== undefined) return <>{children(query.data)}</>
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />
  return <Loading />
}
