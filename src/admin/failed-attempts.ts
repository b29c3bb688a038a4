import { isIPv6 } from 'node:net'

export interface FailedAttemptsOptions {
  /** wrong keys an address may send within one window */
  maxFailures: number
  windowMs: number
  /** addresses tracked at once; beyond it the one whose window ends first is forgotten */
  maxAddresses?: number
  now?: () => number
}

interface Window {
  failures: number
  /** when this address's window ends */
  until: number
}

/**
 * Wrong admin keys per client address. The first wrong key opens a window of `windowMs`; once it holds
 * `maxFailures`, the address is locked until the window ends, whatever key it sends — a lock that still
 * checked the key would tell a right guess from a wrong one at full speed. Requests without a key are no
 * guess and are not counted.
 *
 * Memory is bounded: at most `maxAddresses` windows, kept in the order they end (every window has the same
 * length and is opened at the current time), so ended ones are dropped from the front and, when full, the
 * one ending soonest makes room. An attacker rotating addresses gains a fresh budget per address, never
 * unbounded memory; IPv6 addresses count per /64, the block one host is usually given.
 */
export class FailedAttempts {
  readonly #windows = new Map<string, Window>()
  readonly #maxFailures: number
  readonly #windowMs: number
  readonly #maxAddresses: number
  readonly #now: () => number

  constructor(opts: FailedAttemptsOptions) {
    this.#maxFailures = opts.maxFailures
    this.#windowMs = opts.windowMs
    this.#maxAddresses = opts.maxAddresses ?? 10_000
    this.#now = opts.now ?? Date.now
  }

  /** Milliseconds until `address` may send a key again; 0 when it may now. */
  lockedFor(address: string): number {
    const now = this.#now()
    const window = this.#windows.get(addressKey(address))
    if (!window || window.until <= now || window.failures < this.#maxFailures) return 0
    return window.until - now
  }

  /** Counts a wrong key from `address`. */
  fail(address: string): void {
    const now = this.#now()
    this.#dropEnded(now)
    const key = addressKey(address)
    const window = this.#windows.get(key)
    if (window) {
      window.failures++
      return
    }
    if (this.#windows.size >= this.#maxAddresses) this.#windows.delete(this.#windows.keys().next().value!)
    this.#windows.set(key, { failures: 1, until: now + this.#windowMs })
  }

  /** addresses with an open window (for tests and the bound) */
  get size(): number {
    return this.#windows.size
  }

  #dropEnded(now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.until > now) return
      this.#windows.delete(key)
    }
  }
}

/** The unit an address is counted in: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)
  if (mapped) return mapped[1]!
  const bare = ip.split('%')[0]!
  if (!isIPv6(bare)) return ip
  const [head, tail] = bare.split('::') as [string, string | undefined]
  const groups = (part: string | undefined) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : [])
  const left = groups(head)
  const right = groups(tail)
  const full = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`
}
