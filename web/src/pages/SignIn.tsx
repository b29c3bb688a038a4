import { useQueryClient } from '@tanstack/react-query'
import { getRouteApi, useRouter } from '@tanstack/react-router'
import { useId, useState, type FormEvent } from 'react'
import { ApiError } from '../api/client.ts'
import { sessionQuery, signIn } from '../api/session.ts'
import { LanguageSwitch } from '../components/Layout.tsx'
import { errorText } from '../components/QueryState.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { useTitle } from '../lib/use-title.ts'

const route = getRouteApi('/sign-in')

/** The admin key is exchanged for a session cookie and forgotten: it is never stored in the browser. */
export function SignInPage() {
  const { t } = useI18n()
  useTitle(t('signIn.submit'))
  const { redirect, reason } = route.useSearch()
  const router = useRouter()
  const queryClient = useQueryClient()
  const [key, setKey] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const errorId = useId()

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (!key.trim()) return setError(t('signIn.required'))
    setBusy(true)
    setError(undefined)
    try {
      await signIn(key.trim())
      setKey('')
      queryClient.removeQueries()
      await router.navigate({ href: (redirect ?? '/ui/').replace(/^\/ui/, '') || '/' })
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? t('signIn.wrongKey') : errorText(e, t))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" className="sign-in">
      <div className="sign-in-card">
        <div className="sign-in-top">
          <h1>{t('signIn.title')}</h1>
          <LanguageSwitch />
        </div>
        {reason && (
          <p className="notice" role="status">
            {reason === 'expired' ? t('signIn.expired') : t('signIn.signedOut')}
          </p>
        )}
        <form onSubmit={submit} noValidate>
          <label htmlFor="admin-key">{t('signIn.key')}</label>
          <input
            id="admin-key"
            name="admin-key"
            type="password"
            autoComplete="current-password"
            autoFocus
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : `${errorId}-hint`}
          />
          <p id={`${errorId}-hint`} className="muted small">
            {t('signIn.keyHint')}
          </p>
          {error && (
            <p id={errorId} className="form-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? t('signIn.busy') : t('signIn.submit')}
          </button>
        </form>
      </div>
    </main>
  )
}
