import type { ReactNode } from 'react'

export function Kpi({ label, value, detail, title }: { label: string; value: ReactNode; detail?: ReactNode; title?: string }) {
  return (
    <div className="kpi">
      <dt>{label}</dt>
      <dd>
        <span className="kpi-value" title={title}>
          {value}
        </span>
        {detail && <span className="kpi-detail">{detail}</span>}
      </dd>
    </div>
  )
}

export function KpiGrid({ children, label }: { children: ReactNode; label?: string }) {
  return (
    <dl className="kpi-grid" aria-label={label}>
      {children}
    </dl>
  )
}
