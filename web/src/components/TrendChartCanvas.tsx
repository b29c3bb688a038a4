import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts'
import type { ChartPoint } from './TrendChart.tsx'

/** The drawn chart (Recharts, loaded lazily). Colours come from the theme's CSS variables. */
export default function TrendChartCanvas({ points, labels, locale }: { points: ChartPoint[]; labels: { ok: string; errors: string }; locale: string }) {
  const compact = new Intl.NumberFormat(locale, { notation: 'compact' })
  const ok = points.map((p) => ({ label: p.label, ok: Math.max(0, p.requests - p.errors), errors: p.errors }))
  return (
    <ResponsiveContainer width="100%" height={220}>
      <BarChart data={ok} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer={false}>
        <CartesianGrid stroke="var(--border)" vertical={false} />
        <XAxis dataKey="label" stroke="var(--muted)" tick={{ fontSize: 12, fill: 'var(--muted)' }} minTickGap={16} />
        <YAxis stroke="var(--muted)" tick={{ fontSize: 12, fill: 'var(--muted)' }} allowDecimals={false} tickFormatter={(v: number) => compact.format(v)} width={44} />
        <Tooltip contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', color: 'var(--text)' }} cursor={{ fill: 'var(--hover)' }} />
        {/* the bars' own order (succeeded below, errors on top), in the page's text colour */}
        <Legend itemSorter={null} wrapperStyle={{ fontSize: 13 }} formatter={(value: string) => <span style={{ color: 'var(--text)' }}>{value}</span>} />
        <Bar dataKey="ok" name={labels.ok} stackId="r" fill="var(--chart-1)" isAnimationActive={false} />
        <Bar dataKey="errors" name={labels.errors} stackId="r" fill="var(--chart-2)" isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  )
}
