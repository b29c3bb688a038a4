import { DashboardBuilder, DashboardCursorSync, DashboardLinkBuilder, DashboardLinkType } from '@grafana/grafana-foundation-sdk/dashboard'

export const DASHBOARD_TAG = 'ccproxy'

/** Dashboard uids: stable, so links between dashboards and bookmarks keep working. */
export const uids = {
  usage: 'ccproxy-usage',
  token: 'ccproxy-token',
  account: 'ccproxy-account',
  requests: 'ccproxy-requests',
  latency: 'ccproxy-latency',
  pipeline: 'ccproxy-pipeline',
} as const

/** A link to another ccproxy dashboard with one variable set, keeping the time range. */
export function dashboardUrl(uid: string, variable: string, field: string): string {
  return `/d/${uid}/?var-${variable}=\${__data.fields.${field}}&\${__url_time_range}`
}

/**
 * What every ccproxy dashboard shares: the tag, UTC (usage_stats_daily days are UTC days, so daily bars line
 * up), a shared crosshair, and a menu of the other ccproxy dashboards.
 */
export function ccproxyDashboard(uid: string, title: string, description: string, time: { from: string; refresh: string }) {
  return new DashboardBuilder(`ccproxy / ${title}`)
    .uid(uid)
    .description(description)
    .tags([DASHBOARD_TAG])
    .timezone('utc')
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: time.from, to: 'now' })
    .refresh(time.refresh)
    .link(new DashboardLinkBuilder('ccproxy').type(DashboardLinkType.Dashboards).tags([DASHBOARD_TAG]).asDropdown(true).keepTime(true).includeVars(false).targetBlank(false))
}
