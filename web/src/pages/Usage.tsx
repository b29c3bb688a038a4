import { useQuery } from '@tanstack/react-query'
import { Link, useNavigate, useSearch } from '@tanstack/react-router'
import { useId, useState } from 'react'
import { usageQueryOptions } from '../api/queries.ts'
import { QueryState } from '../components/QueryState.tsx'
import { toPoints, TrendChart } from '../components/TrendChart.tsx'
import { UsageKpis, UsageTable } from '../components/UsageTables.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { validateUsageSearch, daysBetween, MAX_HOURLY_DAYS, USAGE_PRESETS, usageDays, usageGranularity, usageQuery, type UsageSearch } from '../lib/search.ts'
import { useTitle } from '../lib/use-title.ts'

function CustomRange({ search, onApply }: { search: UsageSearch; onApply: (from: string, to: string) => void }) {
  const { t } = useI18n()
  const ids = useId()
  const days = usageDays(search)
  const [from, setFrom] = useState(days.from)
  const [to, setTo] = useState(days.to)
  const bad = from > to
  return (
    <form
      className="filters"
      onSubmit={(e) => {
        e.preventDefault()
        if (!bad) onApply(from, to)
      }}
    >
      <div className="field">
        <label htmlFor={`${ids}-from`}>{t('common.from')}</label>
        <input id={`${ids}-from`} type="date" value={from} onChange={(e) => setFrom(e.target.value)} required />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-to`}>{t('common.to')}</label>
        <input id={`${ids}-to`} type="date" value={to} onChange={(e) => setTo(e.target.value)} required />
      </div>
      <button type="submit" className="button" disabled={bad || !from || !to}>
        {t('usage.apply')}
      </button>
      {bad && (
        <p className="form-error" role="alert">
          {t('usage.badRange')}
        </p>
      )}
    </form>
  )
}

export default function UsagePage() {
  const { t, locale } = useI18n()
  useTitle(t('usage.title'))
  // validated again here: outside the route's own match, the router hands over the raw query
  const search = validateUsageSearch(useSearch({ strict: false }))
  const navigate = useNavigate()
  const setSearch = (next: UsageSearch) => void navigate({ to: '/usage', search: next })
  const range = search.range ?? '7d'
  const { from, to } = usageDays(search)
  const granularity = usageGranularity(search)
  const hourAllowed = daysBetween(from, to) <= MAX_HOURLY_DAYS
  const usage = useQuery(usageQueryOptions(usageQuery(search)))
  const presetLabel = { today: t('usage.today'), '7d': t('usage.7d'), '30d': t('usage.30d'), custom: t('usage.custom') } as const

  return (
    <>
      <div className="page-head">
        <h1>{t('usage.title')}</h1>
        <div className="toolbar">
          <div className="segmented" role="group" aria-label={t('usage.range')}>
            {USAGE_PRESETS.map((p) => (
              <button
                key={p}
                type="button"
                className="button button-small"
                aria-pressed={range === p}
                onClick={() => setSearch(p === 'custom' ? { range: 'custom', from, to, granularity: search.granularity } : { range: p, granularity: search.granularity })}
              >
                {presetLabel[p]}
              </button>
            ))}
          </div>
          <div className="segmented" role="group" aria-label={t('usage.granularity')}>
            <button type="button" className="button button-small" aria-pressed={granularity === 'day'} onClick={() => setSearch({ ...search, granularity: 'day' })}>
              {t('usage.day')}
            </button>
            <button
              type="button"
              className="button button-small"
              aria-pressed={granularity === 'hour'}
              disabled={!hourAllowed}
              title={hourAllowed ? undefined : t('usage.hourLimit')}
              onClick={() => setSearch({ ...search, granularity: 'hour' })}
            >
              {t('usage.hour')}
            </button>
          </div>
        </div>
      </div>
      {range === 'custom' && <CustomRange key={`${from}/${to}`} search={search} onApply={(f, to2) => setSearch({ ...search, range: 'custom', from: f, to: to2 })} />}
      <QueryState query={usage}>
        {(u) => (
          <div aria-busy={usage.isFetching || undefined}>
            <UsageKpis totals={u.totals} />
            <section className="panel" aria-label={t('usage.trend', { per: '', from: u.from_date, to: u.to_date })}>
              <TrendChart
                title={t('usage.trend', { per: u.granularity === 'hour' ? t('usage.perHour') : t('usage.perDay'), from: u.from_date, to: u.to_date })}
                points={toPoints(u.trend, u.granularity, locale)}
              />
            </section>
            <UsageTable title={t('usage.byModel')} nameHeader={t('common.model')} rows={u.by_model} name={(r) => r.model} />
            <UsageTable
              title={t('usage.byToken')}
              nameHeader={t('common.token')}
              rows={u.by_token}
              name={(r) => (r.token_id ? <Link to="/tokens/$tokenId" params={{ tokenId: r.token_id }}>{r.name || r.token_id}</Link> : t('common.unknownToken'))}
            />
            <UsageTable title={t('usage.byAccount')} nameHeader={t('common.account')} rows={u.by_account} name={(r) => (r.account_id ? r.name || r.account_id : t('common.unknownAccount'))} />
          </div>
        )}
      </QueryState>
    </>
  )
}
