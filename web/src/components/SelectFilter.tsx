import { useId } from 'react'
import { useI18n } from '../i18n/i18n.tsx'

export interface FilterOption {
  value: string
  label: string
}

/**
 * One filter of a list page: a labelled select with "All" first. A value the options do not hold (still
 * loading, or no longer listed) stays selectable, so a shared link keeps its filter.
 */
export function SelectFilter({ label, value, options, onChange }: { label: string; value: string | undefined; options: FilterOption[]; onChange: (value: string | undefined) => void }) {
  const { t } = useI18n()
  const id = useId()
  const listed = value === undefined || options.some((o) => o.value === value)
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">{t('common.all')}</option>
        {!listed && <option value={value}>{value}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  )
}

/** Entities with an id and a name (tokens, accounts) as options. */
export const byName = (items: Array<{ id: string; name: string }> | undefined): FilterOption[] => (items ?? []).map((x) => ({ value: x.id, label: x.name }))

/** Plain names (models) as options. */
export const asOptions = (names: string[] | undefined): FilterOption[] => (names ?? []).map((n) => ({ value: n, label: n }))
