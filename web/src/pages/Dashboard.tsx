import { useQuery } from '@tanstack/react-query'
import { Link } from '@tanstack/react-router'
import { logsQueryOptions, pipelineQuery, realtimeQuery, usageQueryOptions } from '../api/queries.ts'
import { Kpi, KpiGrid } from '../components/Kpi.tsx'
import { Empty, QueryState } from '../components/QueryState.tsx'
import { RequestTable } from '../components/RequestTable.tsx'
import { toPoints, TrendChart } from '../components/TrendChart.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { formatBytes, formatCompact, formatNumber, formatPercent } from '../lib/format.ts'
import type { Pipeline } from '../api/types.ts'
import { useTitle } from '../lib/use-title.ts'

function ExporterHealth({ pipeline }: { pipeline: Pipeline }) {
  const { t, locale } = useI18n()
  const e = pipeline.exporter
  const state = e.rowsDropped > 0 ? 'dropping' : e.spoolBytes > 0 ? 'spooling' : 'healthy'
  return (
    <>
      <p className={`health health-${state}`}>{t(`dashboard.${state}`)}</p>
      <KpiGrid>
        <Kpi label={t('dashboard.queue')} value={formatNumber(e.queueDepth, locale)} detail={`${t('dashboard.peak')}: ${formatNumber(e.peakQueueDepth, locale)}`} />
        <Kpi label={t('dashboard.written')} value={formatCompact(e.rowsWritten, locale)} title={formatNumber(e.rowsWritten, locale)} />
        <Kpi label={t('dashboard.spool')} value={formatBytes(e.spoolBytes)} detail={`${t('dashboard.spooled')}: ${formatNumber(e.rowsSpooled, locale)}`} />
        <Kpi label={t('dashboard.dropped')} value={formatNumber(e.rowsDropped, locale)} />
      </KpiGrid>
    </>
  )
}

export default function DashboardPage() {
  const { t, locale } = useI18n()
  useTitle(t('dashboard.title'))
  const realtime = useQuery(realtimeQuery)
  const recent = useQuery(logsQueryOptions({ page: 0, limit: 10 }))
  const trend = useQuery(usageQueryOptions({ days: 7, granularity: 'day' }))
  const pipeline = useQuery(pipelineQuery)
  return (
    <>
      <h1>{t('dashboard.title')}</h1>
      <section aria-labelledby="today">
        <h2 id="today" className="section-title">
          {t('dashboard.today')}
        </h2>
        <QueryState query={realtime}>
          {(r) => (
            <KpiGrid>
              <Kpi label={t('dashboard.requestsToday')} value={formatNumber(r.total_requests, locale)} detail={`${t('common.errors')}: ${formatNumber(r.error_count, locale)}`} />
              <Kpi
                label={t('dashboard.successToday')}
                value={r.total_requests ? formatPercent(r.success_rate, locale) : '—'}
                detail={`${t('logs.statusOk')}: ${formatNumber(r.success_count, locale)}`}
              />
              <Kpi label={t('dashboard.tokensToday')} value={formatCompact(r.total_tokens, locale)} title={formatNumber(r.total_tokens, locale)} />
            </KpiGrid>
          )}
        </QueryState>
      </section>
      <div className="columns">
        <section aria-labelledby="trend" className="panel">
          <h2 id="trend" className="sr-only">
            {t('dashboard.trend')}
          </h2>
          <QueryState query={trend}>{(u) => <TrendChart title={t('dashboard.trend')} points={toPoints(u.trend, 'day', locale)} />}</QueryState>
        </section>
        <section aria-labelledby="exporter" className="panel">
          <h2 id="exporter" className="section-title">
            {t('dashboard.exporter')}
          </h2>
          <QueryState query={pipeline}>{(p) => <ExporterHealth pipeline={p} />}</QueryState>
        </section>
      </div>
      <section aria-labelledby="recent" className="panel">
        <div className="section-head">
          <h2 id="recent" className="section-title">
            {t('dashboard.recent')}
          </h2>
          <Link to="/requests">{t('dashboard.allRequests')}</Link>
        </div>
        <QueryState query={recent}>
          {(page) => (page.logs.length ? <RequestTable logs={page.logs} caption={t('dashboard.recent')} /> : <Empty>{t('dashboard.noRequests')}</Empty>)}
        </QueryState>
      </section>
    </>
  )
}
