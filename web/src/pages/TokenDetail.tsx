import { useQuery } from '@tanstack/react-query'
import { Link, useNavigate, useParams } from '@tanstack/react-router'
import { logsQueryOptions, tokensQuery, usageQueryOptions } from '../api/queries.ts'
import { tokenState, TokenStateBadge } from '../components/Badges.tsx'
import { Empty, QueryState } from '../components/QueryState.tsx'
import { RequestTable } from '../components/RequestTable.tsx'
import { LoggingSwitch, RevokeButton } from '../components/TokenControls.tsx'
import { toPoints, TrendChart } from '../components/TrendChart.tsx'
import { UsageKpis } from '../components/UsageTables.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { formatTime } from '../lib/format.ts'
import { modeLabel } from './Tokens.tsx'
import { useTitle } from '../lib/use-title.ts'

function Usage({ tokenId }: { tokenId: string }) {
  const { t, locale } = useI18n()
  const usage = useQuery(usageQueryOptions({ token_id: tokenId, days: 30, granularity: 'day' }))
  const recent = useQuery(logsQueryOptions({ token_id: tokenId, page: 0, limit: 20 }))
  return (
    <>
      <section aria-labelledby="token-usage">
        <h2 id="token-usage" className="section-title">
          {t('tokens.detail')} · {t('tokens.last30')}
        </h2>
        <QueryState query={usage}>
          {(u) => (
            <>
              <UsageKpis totals={u.totals} />
              <div className="panel">
                <TrendChart title={t('tokens.trend')} points={toPoints(u.trend, 'day', locale)} />
              </div>
            </>
          )}
        </QueryState>
      </section>
      <section className="panel" aria-labelledby="token-recent">
        <div className="section-head">
          <h2 id="token-recent" className="section-title">
            {t('tokens.recent')}
          </h2>
          <Link to="/requests" search={{ token: tokenId }}>
            {t('tokens.viewAll')}
          </Link>
        </div>
        <QueryState query={recent}>
          {(page) => (page.logs.length ? <RequestTable logs={page.logs} caption={t('tokens.recent')} oneToken /> : <Empty>{t('logs.none')}</Empty>)}
        </QueryState>
      </section>
    </>
  )
}

export default function TokenDetailPage() {
  const { t, locale } = useI18n()
  useTitle(t('tokens.detail'))
  const { tokenId } = useParams({ strict: false }) as { tokenId: string }
  const tokens = useQuery(tokensQuery)
  const navigate = useNavigate()
  return (
    <QueryState query={tokens}>
      {(list) => {
        const token = list.find((x) => x.id === tokenId)
        if (!token) {
          return (
            <>
              <h1>{t('tokens.title')}</h1>
              <Empty action={<Link to="/tokens">{t('tokens.title')}</Link>}>{t('tokens.notFound')}</Empty>
            </>
          )
        }
        return (
          <>
            <div className="page-head">
              <h1>
                {t('common.token')}: {token.name}
              </h1>
              <div className="toolbar">
                <TokenStateBadge token={token} />
                {tokenState(token) === 'active' && <RevokeButton token={token} onRevoked={() => void navigate({ to: '/tokens' })} />}
              </div>
            </div>
            <div className="meta-strip">
              <dl className="meta-items">
                <div>
                  <dt>{t('tokens.mode')}</dt>
                  <dd>{modeLabel(token.mode, t)}</dd>
                </div>
                <div>
                  <dt>{t('tokens.created')}</dt>
                  <dd title={token.created_at}>{formatTime(token.created_at, locale)}</dd>
                </div>
                <div>
                  <dt>{t('tokens.expires')}</dt>
                  <dd title={token.expires_at}>{formatTime(token.expires_at, locale)}</dd>
                </div>
                <div>
                  <dt>{t('tokens.lastUsed')}</dt>
                  <dd>{token.last_used_at ? formatTime(token.last_used_at, locale) : t('common.never')}</dd>
                </div>
                <div>
                  <dt>id</dt>
                  <dd className="mono">{token.id}</dd>
                </div>
              </dl>
            </div>
            <div className="panel">
              <LoggingSwitch token={token} showLabel />
              <p className="muted small">{t('tokens.loggingStatement')}</p>
            </div>
            <Usage tokenId={token.id} />
          </>
        )
      }}
    </QueryState>
  )
}
