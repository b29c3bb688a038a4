import { Link } from '@tanstack/react-router'
import { useI18n } from '../i18n/i18n.tsx'

export function NotFound() {
  const { t } = useI18n()
  return (
    <main id="main" className="main">
      <h1>404</h1>
      <p>
        <Link to="/">{t('nav.dashboard')}</Link>
      </p>
    </main>
  )
}
