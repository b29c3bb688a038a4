import { useI18n } from '../i18n/i18n.tsx'
import type { Token } from '../api/types.ts'

export function StatusBadge({ code, success }: { code: number; success: boolean }) {
  const { t } = useI18n()
  return (
    <span className={`badge ${success ? 'badge-ok' : 'badge-error'}`}>
      <span className="sr-only">{success ? t('logs.statusOk') : t('logs.statusFailed')} </span>
      {code}
    </span>
  )
}

export type TokenState = 'active' | 'revoked' | 'expired'
export const tokenState = (token: Token, now = Date.now()): TokenState =>
  token.revoked_at ? 'revoked' : new Date(token.expires_at).getTime() <= now ? 'expired' : 'active'

export function TokenStateBadge({ token }: { token: Token }) {
  const { t } = useI18n()
  const state = tokenState(token)
  return <span className={`badge ${state === 'active' ? 'badge-ok' : 'badge-muted'}`}>{t(`tokens.${state}`)}</span>
}
