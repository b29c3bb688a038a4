import { useQuery } from '@tanstack/react-query'
import { Link, useNavigate, useParams, useSearch } from '@tanstack/react-router'
import { createColumnHelper } from '@tanstack/react-table'
import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react'
import { withQuery } from '../api/client.ts'
import { accountsQuery, logQueryOptions, logsQueryOptions, modelsQuery, tokensQuery } from '../api/queries.ts'
import type { RequestLog } from '../api/types.ts'
import { StatusBadge } from '../components/Badges.tsx'
import { CopyButton } from '../components/CopyButton.tsx'
import { DataTable } from '../components/DataTable.tsx'
import { Empty, ErrorState, Loading } from '../components/QueryState.tsx'
import { Pager } from '../components/Pager.tsx'
import { SelectFilter, asOptions, byName } from '../components/SelectFilter.tsx'
import { TraceLink } from '../components/TraceLink.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { downloadUrl } from '../lib/download.ts'
import { formatDuration, formatNumber, formatTime } from '../lib/format.ts'
import { isShortcutEvent } from '../lib/keyboard.ts'
import { validateLogSearch, DEFAULT_PAGE_SIZE, hasLogFilters, logFilterQuery, logListQuery, LOG_SORTS, withFilter, type LogSearch, type LogSortColumn } from '../lib/search.ts'
import { useTitle } from '../lib/use-title.ts'

const column = createColumnHelper<RequestLog>()
/** left out while the detail panel is open (it shows them): the rest stays one line a row */
const PANEL_HIDDEN_COLUMNS = ['stream', 'prompt_tokens', 'completion_tokens']

function Filters({ search, onChange }: { search: LogSearch; onChange: (patch: Partial<LogSearch>) => void }) {
  const { t } = useI18n()
  const ids = useId()
  const tokens = useQuery(tokensQuery)
  const accounts = useQuery(accountsQuery)
  const models = useQuery(modelsQuery)
  const status = search.code !== undefined ? String(search.code) : (search.status ?? '')
  return (
    <form className="filters" role="search" aria-label={t('common.filters')} onSubmit={(e) => e.preventDefault()}>
      <SelectFilter label={t('common.token')} value={search.token} options={byName(tokens.data)} onChange={(token) => onChange({ token })} />
      <SelectFilter label={t('common.account')} value={search.account} options={byName(accounts.data)} onChange={(account) => onChange({ account })} />
      <SelectFilter label={t('common.model')} value={search.model} options={asOptions(models.data)} onChange={(model) => onChange({ model })} />
      <div className="field">
        <label htmlFor={`${ids}-status`}>{t('logs.status')}</label>
        <select
          id={`${ids}-status`}
          value={status}
          onChange={(e) => {
            const v = e.target.value
            onChange(/^\d+$/.test(v) ? { code: Number(v), status: undefined } : { status: (v || undefined) as LogSearch['status'], code: undefined })
          }}
        >
          <option value="">{t('common.all')}</option>
          <option value="success">{t('logs.statusOk')}</option>
          <option value="error">{t('logs.statusFailed')}</option>
          {[400, 401, 403, 404, 413, 429, 500, 502, 503, 529].map((code) => (
            <option key={code} value={code}>
              {code}
            </option>
          ))}
          {search.code !== undefined && ![400, 401, 403, 404, 413, 429, 500, 502, 503, 529].includes(search.code) && <option value={search.code}>{search.code}</option>}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-stream`}>{t('logs.stream')}</label>
        <select id={`${ids}-stream`} value={search.stream ?? ''} onChange={(e) => onChange({ stream: (e.target.value || undefined) as LogSearch['stream'] })}>
          <option value="">{t('common.all')}</option>
          <option value="true">{t('logs.streamYes')}</option>
          <option value="false">{t('logs.streamNo')}</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-from`}>{t('common.from')}</label>
        <input id={`${ids}-from`} type="date" value={search.from ?? ''} max={search.to} onChange={(e) => onChange({ from: e.target.value || undefined })} />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-to`}>{t('common.to')}</label>
        <input id={`${ids}-to`} type="date" value={search.to ?? ''} min={search.from} onChange={(e) => onChange({ to: e.target.value || undefined })} />
      </div>
      {hasLogFilters(search) && (
        <button
          type="button"
          className="button"
          onClick={() => onChange({ token: undefined, account: undefined, model: undefined, status: undefined, code: undefined, stream: undefined, from: undefined, to: undefined })}
        >
          {t('state.clearFilters')}
        </button>
      )}
    </form>
  )
}

function ExportControl({ search }: { search: LogSearch }) {
  const { t } = useI18n()
  const [format, setFormat] = useState<'csv' | 'jsonl'>('csv')
  const id = useId()
  return (
    <div className="toolbar">
      <label htmlFor={id}>{t('logs.format')}</label>
      <select id={id} value={format} onChange={(e) => setFormat(e.target.value as 'csv' | 'jsonl')}>
        <option value="csv">{t('logs.csv')}</option>
        <option value="jsonl">{t('logs.jsonl')}</option>
      </select>
      <button type="button" className="button" onClick={() => downloadUrl(withQuery('/api/logs/requests/export', { ...logFilterQuery(search), format }))}>
        {t('logs.export')}
      </button>
    </div>
  )
}

/** Every field of one request, its error, and where to go next (its conversation). */
const mono = (value: string) => (value ? <span className="mono">{value}</span> : '')

export function RequestDetail({ log }: { log: RequestLog }) {
  const { t, locale } = useI18n()
  const rows: Array<[string, React.ReactNode]> = [
    ['id', mono(log.id)],
    ['request_at', <span title={log.request_at}>{formatTime(log.request_at, locale)}</span>],
    ['response_at', <span title={log.response_at}>{formatTime(log.response_at, locale)}</span>],
    ['user_name', log.user_name],
    ['token_id', mono(log.token_id)],
    ['account_id', mono(log.account_id)],
    ['mode', log.mode],
    ['endpoint', log.endpoint],
    ['model', log.model],
    ['response_model', log.response_model],
    ['stream', log.stream ? t('common.yes') : t('common.no')],
    ['status_code', <StatusBadge code={log.status_code} success={log.success} />],
    ['error_type', log.error_type],
    ['stop_reason', log.stop_reason],
    ['duration_ms', formatDuration(log.duration_ms)],
    ['ttft_ms', formatDuration(log.ttft_ms)],
    ['prompt_tokens', formatNumber(log.prompt_tokens, locale)],
    ['completion_tokens', formatNumber(log.completion_tokens, locale)],
    ['total_tokens', formatNumber(log.total_tokens, locale)],
    ['cache_creation_tokens', formatNumber(log.cache_creation_tokens, locale)],
    ['cache_read_tokens', formatNumber(log.cache_read_tokens, locale)],
    ['retries', formatNumber(log.retries, locale)],
    ['client_ip', log.client_ip],
    ['user_agent', log.user_agent],
    ['upstream_request_id', mono(log.upstream_request_id)],
    ['conversation_id', mono(log.conversation_id)],
    ['trace_id', log.trace_id ? <TraceLink traceId={log.trace_id} /> : '—'],
    ['span_id', mono(log.span_id)],
  ]
  return (
    <>
      {!log.success && log.error_message && (
        <div className="block">
          <h3 className="section-title">{t('logs.error')}</h3>
          <div className="error-box">{log.error_message}</div>
        </div>
      )}
      <p>
        {log.conversation_content_id ? (
          <Link to="/conversations/$conversationId" params={{ conversationId: log.conversation_content_id }}>
            {t('logs.conversation')}
          </Link>
        ) : (
          <span className="muted small">{t('logs.noConversation')}</span>
        )}
      </p>
      <h3 className="section-title">{t('logs.fields')}</h3>
      <dl className="fields">
        {rows.map(([name, value]) => (
          <div key={name} style={{ display: 'contents' }}>
            <dt>{name}</dt>
            <dd>{value === '' || value === undefined || value === null ? '—' : value}</dd>
          </div>
        ))}
      </dl>
    </>
  )
}

function DetailPanel({ id, onClose }: { id: string; onClose: () => void }) {
  const { t } = useI18n()
  const log = useQuery(logQueryOptions(id))
  const closeRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    closeRef.current?.focus({ preventScroll: true })
  }, [id])
  return (
    <aside className="detail-panel" aria-labelledby="detail-title">
      <div className="section-head">
        <h2 id="detail-title" className="section-title">
          {t('logs.detail')}
        </h2>
        <span className="toolbar">
          <CopyButton text={id} what="id" />
          <button ref={closeRef} type="button" className="button button-small" onClick={onClose}>
            {t('logs.close')}
          </button>
        </span>
      </div>
      <p className="muted small">{t('logs.keys')}</p>
      {log.data ? <RequestDetail log={log.data} /> : log.isError ? <ErrorState error={log.error} onRetry={() => void log.refetch()} /> : <Loading />}
    </aside>
  )
}

export default function RequestLogsPage() {
  const { t, locale } = useI18n()
  useTitle(t('logs.title'))
  // validated again here: outside the route's own match, the router hands over the raw query
  const search = validateLogSearch(useSearch({ strict: false }))
  const { requestId } = useParams({ strict: false }) as { requestId?: string }
  const navigate = useNavigate()
  const logs = useQuery(logsQueryOptions(logListQuery(search)))
  const rows = logs.data?.logs ?? []

  const setSearch = useCallback((next: LogSearch, replace = false) => void navigate({ to: '/requests', search: next, replace }), [navigate])
  const open = useCallback(
    (id: string) => void navigate({ to: '/requests/$requestId', params: { requestId: id }, search, replace: requestId !== undefined }),
    [navigate, search, requestId],
  )
  const close = useCallback(() => {
    const id = requestId
    void navigate({ to: '/requests', search }).then(() => {
      // focus returns to the row that was open
      if (id) document.querySelector<HTMLElement>(`tr[data-row-id="${id.replace(/["\\]/g, '\\$&')}"] a`)?.focus()
    })
  }, [navigate, search, requestId])

  // j / k move between rows, Esc closes the panel (not while typing, not with modifiers)
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (!isShortcutEvent(event)) return
      if (event.key === 'Escape' && requestId) {
        event.preventDefault()
        close()
        return
      }
      if (event.key !== 'j' && event.key !== 'k') return
      if (rows.length === 0) return
      const at = requestId ? rows.findIndex((r) => r.id === requestId) : -1
      const next = event.key === 'j' ? (at < 0 ? 0 : Math.min(rows.length - 1, at + 1)) : at < 0 ? 0 : Math.max(0, at - 1)
      event.preventDefault()
      if (rows[next] && rows[next]!.id !== requestId) open(rows[next]!.id)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [rows, requestId, open, close])

  const columns = useMemo(
    () => [
      column.accessor('request_at', {
        header: t('common.time'),
        cell: (c) => (
          <Link
            to="/requests/$requestId"
            params={{ requestId: c.row.original.id }}
            search={search}
            replace={requestId !== undefined}
            title={c.getValue()}
            aria-label={`${t('logs.openRequest', { id: c.row.original.id })}: ${formatTime(c.getValue(), locale)}`}
          >
            {formatTime(c.getValue(), locale)}
          </Link>
        ),
      }),
      column.accessor('user_name', { header: t('common.token'), cell: (c) => c.getValue() || t('common.unknownToken'), meta: { clip: true } }),
      column.accessor('model', { header: t('common.model'), meta: { clip: true } }),
      column.accessor('status_code', { header: t('common.status'), cell: (c) => <StatusBadge code={c.getValue()} success={c.row.original.success} /> }),
      column.accessor('stream', { header: t('logs.stream'), cell: (c) => (c.getValue() ? t('common.yes') : t('common.no')) }),
      column.accessor('duration_ms', { header: t('common.duration'), cell: (c) => formatDuration(c.getValue()), meta: { numeric: true } }),
      column.accessor('prompt_tokens', { header: t('logs.in'), cell: (c) => formatNumber(c.getValue(), locale), meta: { numeric: true } }),
      column.accessor('completion_tokens', { header: t('logs.out'), cell: (c) => formatNumber(c.getValue(), locale), meta: { numeric: true } }),
      column.accessor('total_tokens', { header: t('common.tokens'), cell: (c) => formatNumber(c.getValue(), locale), meta: { numeric: true } }),
    ],
    [t, locale, search, requestId],
  )

  const filtered = hasLogFilters(search)
  return (
    <>
      <div className="page-head">
        <h1>{t('logs.title')}</h1>
        <ExportControl search={search} />
      </div>
      <Filters search={search} onChange={(patch) => setSearch(withFilter(search, patch))} />
      <div className={`with-panel ${requestId ? 'open' : ''}`}>
        <section className="panel" aria-label={t('logs.title')}>
          {logs.data ? (
            rows.length ? (
              <>
                <DataTable
                  caption={t('logs.title')}
                  columns={columns}
                  data={rows}
                  rowId={(r) => r.id}
                  sortable={LOG_SORTS}
                  sort={{ by: search.sort ?? 'request_at', order: search.order ?? 'desc' }}
                  onSort={(s) => setSearch({ ...search, sort: s.by as LogSortColumn, order: s.order, page: undefined })}
                  activeRowId={requestId}
                  onRowClick={(r) => open(r.id)}
                  busy={logs.isFetching}
                  nowrap
                  hidden={requestId ? PANEL_HIDDEN_COLUMNS : []}
                />
                <Pager
                  page={logs.data.page}
                  limit={logs.data.limit}
                  total={logs.data.total}
                  onPage={(page) => setSearch({ ...search, page: page || undefined })}
                  onLimit={(limit) => setSearch({ ...search, limit: limit === DEFAULT_PAGE_SIZE ? undefined : limit, page: undefined })}
                />
              </>
            ) : filtered ? (
              <Empty
                action={
                  <button type="button" className="button" onClick={() => setSearch({})}>
                    {t('state.clearFilters')}
                  </button>
                }
              >
                {t('logs.empty')}
              </Empty>
            ) : (
              <Empty>{t('logs.none')}</Empty>
            )
          ) : logs.isError ? (
            <ErrorState error={logs.error} onRetry={() => void logs.refetch()} />
          ) : (
            <Loading />
          )}
        </section>
        {requestId && <DetailPanel id={requestId} onClose={close} />}
      </div>
    </>
  )
}
