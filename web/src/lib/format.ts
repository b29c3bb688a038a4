// Numbers, durations and times as the pages show them (locale-aware, tabular).

export const formatNumber = (n: number | null | undefined, locale: string) =>
  n === null || n === undefined || Number.isNaN(n) ? '—' : new Intl.NumberFormat(locale).format(n)

/** 12.3k, 4.5M: for KPI cards and table cells (the exact value goes in a title). */
export const formatCompact = (n: number | null | undefined, locale: string) =>
  n === null || n === undefined || Number.isNaN(n) ? '—' : new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(n)

export const formatPercent = (percent: number | null | undefined, locale: string) =>
  percent === null || percent === undefined || Number.isNaN(percent)
    ? '—'
    : new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(percent / 100)

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

/** A local date and time; the UTC ISO value belongs in a title next to it. */
export function formatTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return '—'
  const at = new Date(iso)
  if (Number.isNaN(at.getTime())) return iso
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(at)
}

export function formatDay(iso: string | null | undefined, locale: string): string {
  if (!iso) return '—'
  const at = new Date(iso)
  if (Number.isNaN(at.getTime())) return iso
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(at)
}

/** The first `max` characters (code points, so no half emoji), with an ellipsis when cut here or by the server. */
export function preview(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  const cut = flat.endsWith('…')
  const chars = [...(cut ? flat.slice(0, -1) : flat)]
  if (chars.length > max) return `${chars.slice(0, max).join('')}…`
  return cut ? `${chars.join('')}…` : chars.join('')
}

/** Today as YYYY-MM-DD in UTC (the stats API's days are UTC days). */
export const utcToday = (now = new Date()) => now.toISOString().slice(0, 10)

export function addDays(day: string, days: number): string {
  const at = new Date(`${day}T00:00:00Z`)
  at.setUTCDate(at.getUTCDate() + days)
  return at.toISOString().slice(0, 10)
}
