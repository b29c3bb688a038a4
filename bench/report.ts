// Printing: each figure next to its target with met / not met, and the summary table at the end.

export interface SummaryRow {
  figure: string
  measured: string
  target: string
  /** undefined: informational, no target */
  met?: boolean
}

const rows: SummaryRow[] = []

export const ms = (x: number, digits = 2): string => (Number.isFinite(x) ? `${x.toFixed(digits)} ms` : 'n/a')
export const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a')
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
export const bytes = (b: number): string => (b >= 10_240 ? `${(b / 1024).toFixed(1)} KiB` : `${Math.round(b)} B`)
export const verdict = (met: boolean | undefined): string => (met === undefined ? '' : met ? 'met' : 'NOT MET')

export function heading(title: string): void {
  console.log(`\n== ${title}`)
}

/** A measurement line; with a target, also its verdict. */
export function line(text: string, target?: { target: string; met: boolean }): void {
  console.log(target ? `   ${text}   [target ${target.target}: ${verdict(target.met)}]` : `   ${text}`)
}

export function note(text: string): void {
  console.log(`   · ${text}`)
}

export function record(row: SummaryRow): void {
  rows.push(row)
}

export function printSummary(): void {
  const header: SummaryRow = { figure: 'figure', measured: 'measured', target: 'target' }
  const all = [header, ...rows]
  const w = {
    figure: Math.max(...all.map((r) => r.figure.length)),
    measured: Math.max(...all.map((r) => r.measured.length)),
    target: Math.max(...all.map((r) => r.target.length)),
  }
  const fmt = (r: SummaryRow, v: string) => `| ${r.figure.padEnd(w.figure)} | ${r.measured.padEnd(w.measured)} | ${r.target.padEnd(w.target)} | ${v.padEnd(7)} |`
  const rule = `|${'-'.repeat(w.figure + 2)}|${'-'.repeat(w.measured + 2)}|${'-'.repeat(w.target + 2)}|---------|`
  console.log('\n== Summary')
  console.log(fmt(header, 'verdict'))
  console.log(rule)
  for (const r of rows) console.log(fmt(r, verdict(r.met)))
  const judged = rows.filter((r) => r.met !== undefined)
  console.log(`\n${judged.filter((r) => r.met).length} of ${judged.length} targets met.`)
}
