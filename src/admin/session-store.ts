import { createHash, randomBytes } from 'node:crypto'

export interface SessionStoreOptions {
  /** how long a session lasts from sign-in */
  ttlMs: number
  /** sessions held at once; beyond it the one ending soonest makes room */
  maxSessions?: number
  now?: () => number
}

export interface Session {
  /** what goes into the cookie; held by the browser only */
  id: string
  expiresAt: number
}

/**
 * Admin sign-ins of the web app, in memory (one replica's). A session lasts `ttlMs` from sign-in, however it
 * is used: a fixed lifetime, like the cookie's Max-Age. Only a hash of each id is kept, so the ids cannot be
 * read back out of the process.
 *
 * Memory is bounded: every session has the same lifetime and starts at the current time, so the map's
 * insertion order is the order they end: ended ones are dropped from the front, and when full, the oldest
 * is signed out to make room.
 */
export class SessionStore {
  readonly #sessions = new Map<string, number>()
  readonly #ttlMs: number
  readonly #maxSessions: number
  readonly #now: () => number

  constructor(opts: SessionStoreOptions) {
    this.#ttlMs = opts.ttlMs
    this.#maxSessions = opts.maxSessions ?? 1000
    this.#now = opts.now ?? Date.now
  }

  get ttlMs(): number {
    return this.#ttlMs
  }

  /** A new session: 256 random bits, base64url. */
  create(): Session {
    const now = this.#now()
    this.#dropEnded(now)
    if (this.#sessions.size >= this.#maxSessions) this.#sessions.delete(this.#sessions.keys().next().value!)
    const id = randomBytes(32).toString('base64url')
    const expiresAt = now + this.#ttlMs
    this.#sessions.set(digest(id), expiresAt)
    return { id, expiresAt }
  }

  /** When the session `id` ends, or undefined when it is unknown or over. */
  expiresAt(id: string): number | undefined {
    const now = this.#now()
    this.#dropEnded(now)
    const expiresAt = this.#sessions.get(digest(id))
    return expiresAt !== undefined && expiresAt > now ? expiresAt : undefined
  }

  /** Ends a session (sign-out); unknown ids are ignored. */
  delete(id: string): void {
    this.#sessions.delete(digest(id))
  }

  /** sessions held (for tests and the bound) */
  get size(): number {
    return this.#sessions.size
  }

  #dropEnded(now: number): void {
    for (const [key, expiresAt] of this.#sessions) {
      if (expiresAt > now) return
      this.#sessions.delete(key)
    }
  }
}

const digest = (id: string): string => createHash('sha256').update(id).digest('base64url')
