import { lazy, Suspense, useId } from 'react'
import { useI18n } from '../i18n/i18n.tsx'
import { formatNumber } from '../lib/format.ts'
import type { TrendBucket } from '../api/types.ts'

// Recharts is the largest library the app uses: it loads with the first chart, not with the app.
const TrendChartCanvas = lazy(() => import('./TrendChartCanvas.tsx'))

export interface ChartPoint {
  label: string
  requests: number
  errors: number
  tokens: number
}

export function bucketLabel(bucket: string, granularity: 'day' | 'hour', locale: string): string {
  const at = new Date(granularity === 'day' ? `${bucket.slice(0, 10)}T00:00:00Z` : bucket)
  if (Number.isNaN(at.getTime())) return bucket
  const options: Intl.DateTimeFormatOptions =
    granularity === 'day' ? { month: 'short', day: 'numeric', timeZone: 'UTC' } : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', hourCycle: 'h23' }
  return new Intl.DateTimeFormat(locale, options).format(at)
}

export function toPoints(trend: TrendBucket[], granularity: 'day' | 'hour', locale: string): ChartPoint[] {
  return trend.map((b) => ({ label: bucketLabel(b.bucket, granularity, locale), requests: b.request_count, errors: b.error_count, tokens: b.total_tokens }))
}

/** The chart's text alternative: one sentence with the total and the busiest period. */
export function chartSummary(points: ChartPoint[]): { total: number; peak?: ChartPoint } {
  let peak: ChartPoint | undefined
  let total = 0
  for (const p of points) {
    total += p.requests
    if (p.requests > 0 && (!peak || p.requests > peak.requests)) peak = p
  }
  return peak ? { total, peak } : { total }
}

/**
 * Requests (and errors) over time, with the same numbers as a summary sentence and a table for screen
 * readers and for anyone who wants the exact values.
 */
export function TrendChart({ title, points }: { title: string; points: ChartPoint[] }) {
  const { t, locale } = useI18n()
  const summaryId = useId()
  const { total, peak } = chartSummary(points)
  const first = points[0]?.label ?? ''
  const last = points[points.length - 1]?.label ?? ''
  return (
    <figure className="chart" aria-labelledby={`${summaryId}-title`} aria-describedby={summaryId}>
      <figcaption id={`${summaryId}-title`} className="section-title">
        {title}
      </figcaption>
      <p id={summaryId} className="muted">
        {peak
          ? t('chart.summary', { from: first, to: last, total: formatNumber(total, locale), peak: peak.label, peakCount: formatNumber(peak.requests, locale) })
          : t('chart.empty')}
      </p>
      <div className="chart-canvas" aria-hidden="true">
        <Suspense fallback={<div className="chart-placeholder" />}>
          <TrendChartCanvas points={points} labels={{ ok: t('logs.statusOk'), errors: t('chart.errors') }} locale={locale} />
        </Suspense>
      </div>
      <details className="chart-table">
        <summary>{t('common.showTable')}</summary>
        <table className="table table-compact">
          <thead>
            <tr>
              <th scope="col">{t('chart.bucket')}</th>
              <th scope="col" className="num">
                {t('chart.requests')}
              </th>
              <th scope="col" className="num">
                {t('chart.errors')}
              </th>
              <th scope="col" className="num">
                {t('chart.tokens')}
              </th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.label}>
                <th scope="row">{p.label}</th>
                <td className="num">{formatNumber(p.requests, locale)}</td>
                <td className="num">{formatNumber(p.errors, locale)}</td>
                <td className="num">{formatNumber(p.tokens, locale)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  )
}
