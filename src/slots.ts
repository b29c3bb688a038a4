/**
 * Up to `size` holders at a time; the others wait their turn, first come first served. A waiter whose
 * signal fires leaves the line with the signal's reason. Bounds the exporter's concurrent inserts, the
 * admin API's queries and the embedded HTTP interface's statements, each with its own Slots.
 */
export class Slots {
  #free: number
  readonly #waiting: Array<{ resolve: () => void; reject: (err: unknown) => void; signal: AbortSignal | undefined; onAbort: () => void }> = []

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`slots: size must be a positive integer, got ${size}`)
    this.#free = size
  }

  /** holders right now */
  get busy(): number {
    return this.size - this.#free
  }

  /** callers waiting for a turn */
  get waiting(): number {
    return this.#waiting.length
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.#free > 0) {
      this.#free--
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiting.indexOf(waiter)
          if (at >= 0) this.#waiting.splice(at, 1)
          reject(signal!.reason)
        },
      }
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  release(): void {
    const next = this.#waiting.shift()
    if (!next) {
      this.#free++
      return
    }
    next.signal?.removeEventListener('abort', next.onAbort)
    next.resolve()
  }

  /** Runs `work` in a slot, released however it ends. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal)
    try {
      return await work()
    } finally {
      this.release()
    }
  }
}
