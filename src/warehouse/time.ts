// ClickHouse DateTime64(3, 'UTC') columns travel as 'YYYY-MM-DD HH:MM:SS.mmm' text in UTC: it reads
// back the same on the embedded engine and on any server, whatever its time zone settings.

export function toClickHouseTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '')
}

export function fromClickHouseTime(s: string): Date
export function fromClickHouseTime(s: string | null): Date | null
export function fromClickHouseTime(s: string | null): Date | null {
  return s === null ? null : new Date(`${s.replace(' ', 'T')}Z`)
}

let lastVersion = 0

/** A strictly increasing version for ReplacingMergeTree rows: microseconds since the epoch. */
export function nextVersion(): number {
  lastVersion = Math.max(Date.now() * 1000, lastVersion + 1)
  return lastVersion
}
