import { useQuery } from '@tanstack/react-query'
import { Link } from '@tanstack/react-router'
import { createColumnHelper } from '@tanstack/react-table'
import { useMemo } from 'react'
import { tokensQuery } from '../api/queries.ts'
import type { Token } from '../api/types.ts'
import { tokenState, TokenStateBadge } from '../components/Badges.tsx'
import { CreateTokenDialog } from '../components/CreateTokenDialog.tsx'
import { DataTable } from '../components/DataTable.tsx'
import { Empty, QueryState } from '../components/QueryState.tsx'
import { LoggingSwitch, RevokeButton } from '../components/TokenControls.tsx'
import { useI18n, type Translate } from '../i18n/i18n.tsx'
import { formatCompact, formatDay, formatNumber, formatTime } from '../lib/format.ts'
import { useTitle } from '../lib/use-title.ts'

const column = createColumnHelper<Token>()

export const modeLabel = (mode: Token['mode'], t: Translate) => t(mode === 'api' ? 'tokens.modeApi' : mode === 'web' ? 'tokens.modeWeb' : 'tokens.modeBoth')

export default function TokensPage() {
  const { t, locale } = useI18n()
  useTitle(t('tokens.title'))
  const tokens = useQuery(tokensQuery)
  const columns = useMemo(
    () => [
      column.accessor('name', {
        header: t('common.name'),
        cell: (c) => (
          <Link to="/tokens/$tokenId" params={{ tokenId: c.row.original.id }}>
            {c.getValue()}
          </Link>
        ),
      }),
      column.accessor('mode', { header: t('tokens.mode'), cell: (c) => modeLabel(c.getValue(), t) }),
      column.accessor('created_at', { header: t('tokens.created'), cell: (c) => <span title={c.getValue()}>{formatDay(c.getValue(), locale)}</span> }),
      column.accessor('last_used_at', {
        header: t('tokens.lastUsed'),
        cell: (c) => (c.getValue() ? <span title={c.getValue()}>{formatTime(c.getValue(), locale)}</span> : t('common.never')),
      }),
      column.display({ id: 'status', header: t('tokens.status'), cell: (c) => <TokenStateBadge token={c.row.original} /> }),
      column.accessor('total_requests', { header: t('tokens.requests'), cell: (c) => formatNumber(c.getValue(), locale), meta: { numeric: true } }),
      column.accessor('total_tokens_used', {
        header: t('tokens.used'),
        cell: (c) => <span title={formatNumber(c.getValue(), locale)}>{formatCompact(c.getValue(), locale)}</span>,
        meta: { numeric: true },
      }),
      column.display({ id: 'logging', header: t('tokens.logging'), cell: (c) => <LoggingSwitch token={c.row.original} /> }),
      column.display({
        id: 'actions',
        header: () => <span className="sr-only">{t('tokens.actions')}</span>,
        cell: (c) => (tokenState(c.row.original) === 'active' ? <RevokeButton token={c.row.original} /> : null),
      }),
    ],
    [t, locale],
  )
  return (
    <>
      <div className="page-head">
        <h1>{t('tokens.title')}</h1>
        <CreateTokenDialog />
      </div>
      <p className="muted">{t('tokens.loggingStatement')}</p>
      <section className="panel" aria-label={t('tokens.title')}>
        <QueryState query={tokens}>
          {(list) => (list.length ? <DataTable caption={t('tokens.title')} columns={columns} data={list} rowId={(x) => x.id} /> : <Empty>{t('tokens.empty')}</Empty>)}
        </QueryState>
      </section>
    </>
  )
}
