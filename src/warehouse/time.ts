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

/** Milliseconds since the epoch, like Date.now. Stores take one so tests can run replicas whose clocks disagree. */
export type Clock = () => number

/**
 * Versions for ReplacingMergeTree rows: microseconds by this replica's clock, strictly increasing here, and
 * always above the version the change was based on. A change read the row it replaces, so it supersedes that
 * row even when this replica's clock is behind the one that wrote it.
 */
export class Versions {
  #last = 0

  constructor(private readonly clock: Clock = Date.now) {}

  next(above = 0): number {
    this.#last = Math.max(this.clock() * 1000, this.#last + 1, above + 1)
    return this.#last
  }
}
