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
export const secs = (milliseconds: number): string => `${(milliseconds / 1000).toFixed(1)} s`
export const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a')
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
export const bytes = (b: number): string => (b >= 10_240 ? `${(b / 1024).toFixed(1)} KiB` : `${Math.round(b)} B`)
export const verdict = (met: boolean | undefined): string => (met === undefined ? '' : met ? 'met' : 'NOT MET')

/** Terminal columns of a string: CJK and other wide characters take two. */
export function width(s: string): number {
  let w = 0
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1
  return w
}

/** padEnd by terminal columns. */
export const pad = (s: string, columns: number): string => s + ' '.repeat(Math.max(0, columns - width(s)))

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
    figure: Math.max(...all.map((r) => width(r.figure))),
    measured: Math.max(...all.map((r) => width(r.measured))),
    target: Math.max(...all.map((r) => width(r.target))),
  }
  const fmt = (r: SummaryRow, v: string) => `| ${pad(r.figure, w.figure)} | ${pad(r.measured, w.measured)} | ${pad(r.target, w.target)} | ${v.padEnd(7)} |`
  const rule = `|${'-'.repeat(w.figure + 2)}|${'-'.repeat(w.measured + 2)}|${'-'.repeat(w.target + 2)}|---------|`
  console.log('\n== Summary')
  console.log(fmt(header, 'verdict'))
  console.log(rule)
  for (const r of rows) console.log(fmt(r, verdict(r.met)))
  const judged = rows.filter((r) => r.met !== undefined)
  console.log(`\n${judged.filter((r) => r.met).length} of ${judged.length} targets met.`)
}
