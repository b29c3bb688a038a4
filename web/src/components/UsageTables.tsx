import type { ReactNode } from 'react'
import type { UsageStats } from '../api/types.ts'
import { useI18n } from '../i18n/i18n.tsx'
import { formatDuration, formatNumber, formatPercent } from '../lib/format.ts'

/** One breakdown (by model, token or account): requests, success, tokens in/out/cache, latency. */
export function UsageTable<T extends UsageStats>({ title, rows, name, nameHeader }: { title: string; rows: T[]; name: (row: T) => ReactNode; nameHeader: string }) {
  const { t, locale } = useI18n()
  return (
    <section className="panel" aria-label={title}>
      <h2 className="section-title">{title}</h2>
      {rows.length === 0 ? (
        <p className="muted">{t('usage.noData')}</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="sr-only">{title}</caption>
            <thead>
              <tr>
                <th scope="col">{nameHeader}</th>
                <th scope="col" className="num">{t('common.requests')}</th>
                <th scope="col" className="num">{t('common.successRate')}</th>
                <th scope="col" className="num">{t('logs.in')}</th>
                <th scope="col" className="num">{t('logs.out')}</th>
                <th scope="col" className="num">{t('logs.cache')}</th>
                <th scope="col" className="num">{t('common.tokens')}</th>
                <th scope="col" className="num">{t('usage.avgDuration')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row, i) => (
                <tr key={i}>
                  <th scope="row">{name(row)}</th>
                  <td className="num">{formatNumber(row.request_count, locale)}</td>
                  <td className="num">{formatPercent(row.success_rate, locale)}</td>
                  <td className="num">{formatNumber(row.total_prompt_tokens, locale)}</td>
                  <td className="num">{formatNumber(row.total_completion_tokens, locale)}</td>
                  <td className="num">{formatNumber(row.total_cache_creation_tokens + row.total_cache_read_tokens, locale)}</td>
                  <td className="num">{formatNumber(row.total_tokens, locale)}</td>
                  <td className="num">{formatDuration(row.avg_duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

export function UsageKpis({ totals }: { totals: UsageStats }) {
  const { t, locale } = useI18n()
  return (
    <dl className="kpi-grid">
      <div className="kpi">
        <dt>{t('usage.requests')}</dt>
        <dd>
          <span className="kpi-value">{formatNumber(totals.request_count, locale)}</span>
          <span className="kpi-detail">
            {t('common.errors')}: {formatNumber(totals.error_count, locale)}
          </span>
        </dd>
      </div>
      <div className="kpi">
        <dt>{t('usage.success')}</dt>
        <dd>
          <span className="kpi-value">{totals.request_count ? formatPercent(totals.success_rate, locale) : '—'}</span>
        </dd>
      </div>
      <div className="kpi">
        <dt>{t('usage.tokens')}</dt>
        <dd>
          <span className="kpi-value">{formatNumber(totals.total_tokens, locale)}</span>
          <span className="kpi-detail">
            {t('usage.tokensDetail', {
              in: formatNumber(totals.total_prompt_tokens, locale),
              out: formatNumber(totals.total_completion_tokens, locale),
              cache: formatNumber(totals.total_cache_creation_tokens + totals.total_cache_read_tokens, locale),
            })}
          </span>
        </dd>
      </div>
      <div className="kpi">
        <dt>{t('usage.avgDuration')}</dt>
        <dd>
          <span className="kpi-value">{formatDuration(totals.request_count ? totals.avg_duration_ms : null)}</span>
          {totals.p95_duration_ms !== undefined && totals.request_count > 0 && <span className="kpi-detail">{t('usage.p95', { v: formatDuration(totals.p95_duration_ms) })}</span>}
        </dd>
      </div>
    </dl>
  )
}
