import { Link, Outlet, useNavigate, useRouter, type ErrorComponentProps } from '@tanstack/react-router'
import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { signOut } from '../api/session.ts'
import { LANGUAGES, useI18n, type Language } from '../i18n/i18n.tsx'
import { ErrorState } from './QueryState.tsx'

export function LanguageSwitch() {
  const { t, language, setLanguage } = useI18n()
  return (
    <label className="language">
      <span className="sr-only">{t('nav.language')}</span>
      <select value={language} onChange={(e) => setLanguage(e.target.value as Language)} aria-label={t('nav.language')}>
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </label>
  )
}

function SignOutButton() {
  const { t } = useI18n()
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const [busy, setBusy] = useState(false)
  return (
    <button
      type="button"
      className="button button-small"
      disabled={busy}
      onClick={async () => {
        setBusy(true)
        try {
          await signOut()
        } catch {
          // already gone on the server: signed out all the same
        }
        queryClient.clear()
        await navigate({ to: '/sign-in', search: { reason: 'signed-out' } })
      }}
    >
      {t('nav.signOut')}
    </button>
  )
}

const NAV = [
  { to: '/', key: 'nav.dashboard', exact: true },
  { to: '/tokens', key: 'nav.tokens' },
  { to: '/conversations', key: 'nav.conversations' },
  { to: '/requests', key: 'nav.requests' },
  { to: '/usage', key: 'nav.usage' },
] as const

export function Layout() {
  const { t } = useI18n()
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        {t('app.skip')}
      </a>
      <header className="topbar">
        <span className="brand">{t('app.name')}</span>
        <nav aria-label={t('nav.label')} className="nav">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <Link to={item.to} activeOptions={{ exact: 'exact' in item, includeSearch: false }} className="nav-link" activeProps={{ className: 'nav-link active' }}>
                  {t(item.key)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <LanguageSwitch />
          <SignOutButton />
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  )
}

/** A route that could not load (the gateway down while checking the session): say so, offer Retry. */
export function RouteError({ error }: ErrorComponentProps) {
  const router = useRouter()
  return (
    <main id="main" className="main">
      <ErrorState error={error} onRetry={() => void router.invalidate()} />
    </main>
  )
}
