import { useI18n } from '../i18n/i18n.tsx'
import { formatNumber } from '../lib/format.ts'
import { PAGE_SIZES } from '../lib/search.ts'

interface Props {
  page: number
  limit: number
  total: number
  onPage: (page: number) => void
  onLimit?: (limit: number) => void
}

/** Server-side paging: pages count from 0, as the API does. */
export function Pager({ page, limit, total, onPage, onLimit }: Props) {
  const { t, locale } = useI18n()
  const pages = Math.max(1, Math.ceil(total / limit))
  const first = total === 0 ? 0 : page * limit + 1
  const last = Math.min(total, (page + 1) * limit)
  return (
    <nav className="pager" aria-label={t('pager.label')}>
      <span className="pager-summary">
        {t('pager.summary', { from: formatNumber(first, locale), to: formatNumber(last, locale), total: formatNumber(total, locale) })}
      </span>
      {onLimit && (
        <label className="pager-size">
          {t('pager.size')}
          <select value={limit} onChange={(e) => onLimit(Number(e.target.value))}>
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </label>
      )}
      <button type="button" className="button button-small" disabled={page <= 0} onClick={() => onPage(page - 1)}>
        {t('pager.prev')}
      </button>
      <span aria-live="polite">{t('pager.page', { page: formatNumber(page + 1, locale), pages: formatNumber(pages, locale) })}</span>
      <button type="button" className="button button-small" disabled={page + 1 >= pages} onClick={() => onPage(page + 1)}>
        {t('pager.next')}
      </button>
    </nav>
  )
}
