import { Link } from '@tanstack/react-router'
import { createColumnHelper } from '@tanstack/react-table'
import { useMemo } from 'react'
import type { RequestLog } from '../api/types.ts'
import { useI18n } from '../i18n/i18n.tsx'
import { formatDuration, formatNumber, formatTime } from '../lib/format.ts'
import { StatusBadge } from './Badges.tsx'
import { DataTable } from './DataTable.tsx'

const column = createColumnHelper<RequestLog>()

/**
 * A short list of requests (dashboard, token page); each row links to its detail in the Request logs.
 * `oneToken`: the rows are all one token's (its page), so the Token column would only repeat its name.
 */
export function RequestTable({ logs, caption, oneToken = false }: { logs: RequestLog[]; caption: string; oneToken?: boolean }) {
  const { t, locale } = useI18n()
  const columns = useMemo(
    () => [
      column.accessor('request_at', {
        header: t('common.time'),
        cell: (c) => (
          <Link to="/requests/$requestId" params={{ requestId: c.row.original.id }} title={c.getValue()}>
            {formatTime(c.getValue(), locale)}
          </Link>
        ),
      }),
      column.accessor('user_name', { header: t('common.token'), cell: (c) => c.getValue() || t('common.unknownToken'), meta: { clip: true } }),
      column.accessor('model', { header: t('common.model'), meta: { clip: true } }),
      column.accessor('status_code', { header: t('common.status'), cell: (c) => <StatusBadge code={c.getValue()} success={c.row.original.success} /> }),
      column.accessor('duration_ms', { header: t('common.duration'), cell: (c) => formatDuration(c.getValue()), meta: { numeric: true } }),
      column.accessor('total_tokens', { header: t('common.tokens'), cell: (c) => formatNumber(c.getValue(), locale), meta: { numeric: true } }),
    ],
    [t, locale],
  )
  return <DataTable caption={caption} columns={columns} data={logs} rowId={(l) => l.id} nowrap hidden={oneToken ? ['user_name'] : []} />
}
