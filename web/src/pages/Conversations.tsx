import { useQuery } from '@tanstack/react-query'
import { Link, useNavigate, useSearch } from '@tanstack/react-router'
import { createColumnHelper } from '@tanstack/react-table'
import { useEffect, useId, useMemo, useRef, useState } from 'react'
import { conversationsQueryOptions, modelsQuery, tokensQuery } from '../api/queries.ts'
import type { ConversationSummary } from '../api/types.ts'
import { DataTable } from '../components/DataTable.tsx'
import { Pager } from '../components/Pager.tsx'
import { SelectFilter, asOptions, byName } from '../components/SelectFilter.tsx'
import { Empty, ErrorState, Loading } from '../components/QueryState.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { formatTime, preview } from '../lib/format.ts'
import { validateConversationSearch, conversationListQuery, hasConversationFilters, withFilter, type ConversationSearch } from '../lib/search.ts'
import { useDebounced } from '../lib/use-debounced.ts'
import { useTitle } from '../lib/use-title.ts'

const column = createColumnHelper<ConversationSummary>()

/** The search box: typed text goes to the URL (and so to the server) once typing pauses. */
function SearchBox({ value, onSearch }: { value: string; onSearch: (q: string | undefined) => void }) {
  const { t } = useI18n()
  const id = useId()
  const [text, setText] = useState(value)
  const debounced = useDebounced(text, 350)
  const last = useRef(value)
  // a new URL (back button, a link) wins over what was typed
  useEffect(() => {
    if (value !== last.current) {
      last.current = value
      setText(value)
    }
  }, [value])
  useEffect(() => {
    const q = debounced.trim()
    if (q === last.current) return
    last.current = q
    onSearch(q || undefined)
  }, [debounced, onSearch])
  return (
    <div className="field search-field">
      <label htmlFor={id}>{t('conv.search')}</label>
      <input id={id} type="search" value={text} maxLength={200} onChange={(e) => setText(e.target.value)} aria-describedby={`${id}-hint`} />
      <span id={`${id}-hint`} className="muted small">
        {t('conv.searchHint')}
      </span>
    </div>
  )
}

export default function ConversationsPage() {
  const { t, locale } = useI18n()
  useTitle(t('conv.title'))
  // validated again here: outside the route's own match, the router hands over the raw query
  const search = validateConversationSearch(useSearch({ strict: false }))
  const navigate = useNavigate()
  const ids = useId()
  const tokens = useQuery(tokensQuery)
  const models = useQuery(modelsQuery)
  const list = useQuery(conversationsQueryOptions(conversationListQuery(search)))
  const tokenName = useMemo(() => new Map(tokens.data?.map((x) => [x.id, x.name])), [tokens.data])
  const setSearch = (next: ConversationSearch, replace = false) => void navigate({ to: '/conversations', search: next, replace })
  const onSearch = useRef((q: string | undefined) => {})
  onSearch.current = (q) => setSearch(withFilter(search, { q }), true)
  const stableOnSearch = useMemo(() => (q: string | undefined) => onSearch.current(q), [])

  const columns = useMemo(
    () => [
      column.accessor('created_at', {
        header: t('common.time'),
        cell: (c) => (
          <Link to="/conversations/$conversationId" params={{ conversationId: c.row.original.id }} title={c.getValue()}>
            {formatTime(c.getValue(), locale)}
          </Link>
        ),
      }),
      column.accessor('token_id', { header: t('common.token'), cell: (c) => tokenName.get(c.getValue()) ?? c.getValue() }),
      column.accessor('model', { header: t('common.model') }),
      column.accessor('prompt_preview', {
        header: t('conv.preview'),
        // no user text (the last turn was a tool result): the answer's start says more than a blank
        cell: (c) => {
          const prompt = preview(c.getValue(), 100)
          const answer = preview(c.row.original.completion_preview, 100)
          return prompt ? <span>{prompt}</span> : answer ? <span className="muted">{answer}</span> : '—'
        },
      }),
    ],
    [t, locale, tokenName],
  )

  return (
    <>
      <h1>{t('conv.title')}</h1>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <SearchBox value={search.q ?? ''} onSearch={stableOnSearch} />
        <SelectFilter label={t('common.token')} value={search.token} options={byName(tokens.data)} onChange={(token) => setSearch(withFilter(search, { token }))} />
        <SelectFilter label={t('common.model')} value={search.model} options={asOptions(models.data)} onChange={(model) => setSearch(withFilter(search, { model }))} />
        <div className="field">
          <label htmlFor={`${ids}-from`}>{t('common.from')}</label>
          <input id={`${ids}-from`} type="date" value={search.from ?? ''} max={search.to} onChange={(e) => setSearch(withFilter(search, { from: e.target.value || undefined }))} />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-to`}>{t('common.to')}</label>
          <input id={`${ids}-to`} type="date" value={search.to ?? ''} min={search.from} onChange={(e) => setSearch(withFilter(search, { to: e.target.value || undefined }))} />
        </div>
      </form>
      <section className="panel" aria-label={t('conv.title')}>
        {list.data ? (
          list.data.conversations.length ? (
            <>
              <DataTable
                caption={t('conv.title')}
                columns={columns}
                data={list.data.conversations}
                rowId={(c) => c.id}
                onRowClick={(c) => void navigate({ to: '/conversations/$conversationId', params: { conversationId: c.id } })}
                busy={list.isFetching}
              />
              <Pager page={list.data.page} limit={list.data.limit} total={list.data.total} onPage={(page) => setSearch({ ...search, page: page || undefined })} />
            </>
          ) : hasConversationFilters(search) ? (
            <Empty
              action={
                <button type="button" className="button" onClick={() => setSearch({})}>
                  {t('state.clearFilters')}
                </button>
              }
            >
              {t('conv.empty')}
            </Empty>
          ) : (
            <Empty action={<Link to="/tokens">{t('conv.toTokens')}</Link>}>{t('conv.none')}</Empty>
          )
        ) : list.isError ? (
          <ErrorState error={list.error} onRetry={() => void list.refetch()} />
        ) : (
          <Loading />
        )}
      </section>
    </>
  )
}
