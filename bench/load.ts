// Load loops (hand-written on undici) and the percentile math.

import { Client, Pool, type Dispatcher } from 'undici'

/** One kind of request: where it goes and what it sends. */
export interface Target {
  origin: string
  path: string
  headers: Record<string, string>
  body: string
}

export interface Answer {
  ms: number
  status: number
  requestId: string | undefined
  text: string
}

// ── percentiles ──────────────────────────────────────────────────────────────────────────────────────────

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export interface Summary {
  count: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

export function summarize(samples: number[]): Summary {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  }
}

export const median = (xs: number[]): number => summarize(xs).p50

// ── one request ──────────────────────────────────────────────────────────────────────────────────────────

/** Sends one request and reads the whole answer; `ms` runs from the call to the body's last byte. */
export async function send(dispatcher: Dispatcher, t: Target): Promise<Answer> {
  const start = performance.now()
  const res = await dispatcher.request({ method: 'POST', path: t.path, headers: t.headers, body: t.body })
  const text = await res.body.text()
  const ms = performance.now() - start
  const id = res.headers['x-ccproxy-request-id']
  return { ms, status: res.statusCode, requestId: typeof id === 'string' ? id : undefined, text }
}

export interface Tally {
  /** requests that got an answer (any status): what the gateway should have recorded */
  answered: number
  errors: number
  firstError?: string
}

function fail(tally: Tally, why: string): void {
  tally.errors++
  tally.firstError ??= why
}

// ── sequential, alternating ──────────────────────────────────────────────────────────────────────────────

export interface PairedLatency {
  a: Summary
  b: Summary
  tallyA: Tally
  tallyB: Tally
}

/**
 * One request at a time on one keep-alive connection per side, alternating a and b (the order flips every
 * pair, so neither side always runs on a warmer cache), `warmup` pairs discarded.
 */
export async function alternating(a: Target, b: Target, opts: { warmup: number; pairs: number }): Promise<PairedLatency> {
  const clientA = new Client(a.origin, { pipelining: 1 })
  const clientB = new Client(b.origin, { pipelining: 1 })
  const msA: number[] = []
  const msB: number[] = []
  const tallyA: Tally = { answered: 0, errors: 0 }
  const tallyB: Tally = { answered: 0, errors: 0 }
  const one = async (client: Client, t: Target, tally: Tally, into: number[] | null) => {
    try {
      const r = await send(client, t)
      tally.answered++
      if (r.status !== 200) return fail(tally, `HTTP ${r.status}: ${r.text.slice(0, 200)}`)
      into?.push(r.ms)
    } catch (err) {
      fail(tally, (err as Error).message)
    }
  }
  try {
    for (let i = 0; i < opts.warmup + opts.pairs; i++) {
      const keepA = i >= opts.warmup ? msA : null
      const keepB = i >= opts.warmup ? msB : null
      if (i % 2 === 0) {
        await one(clientA, a, tallyA, keepA)
        await one(clientB, b, tallyB, keepB)
      } else {
        await one(clientB, b, tallyB, keepB)
        await one(clientA, a, tallyA, keepA)
      }
    }
  } finally {
    await Promise.all([clientA.close(), clientB.close()])
  }
  return { a: summarize(msA), b: summarize(msB), tallyA, tallyB }
}

// ── closed loop at fixed concurrency ─────────────────────────────────────────────────────────────────────

export interface Throughput {
  rps: number
  requests: number
  latency: Summary
  /** over warm-up and measured window */
  tally: Tally
  /** errors within the measured window */
  errors: number
}

/**
 * `connections` workers, each on its own keep-alive connection, send back to back for `warmupMs` (not
 * measured), then for `durationMs`; requests/s = answers completed in the window / window length.
 */
export async function closedLoop(t: Target, opts: { connections: number; warmupMs: number; durationMs: number }): Promise<Throughput> {
  const pool = new Pool(t.origin, { connections: opts.connections, pipelining: 1 })
  const tally: Tally = { answered: 0, errors: 0 }
  const latencies: number[] = []
  let measuring = false
  let windowErrors = 0
  let stopAt = 0
  const worker = async () => {
    while (performance.now() < stopAt) {
      const counted = measuring
      try {
        const r = await send(pool, t)
        tally.answered++
        if (r.status !== 200) {
          fail(tally, `HTTP ${r.status}: ${r.text.slice(0, 200)}`)
          if (counted) windowErrors++
        } else if (counted && measuring) latencies.push(r.ms)
      } catch (err) {
        fail(tally, (err as Error).message)
        if (counted) windowErrors++
      }
    }
  }
  try {
    // warm-up: connections open, JIT warm
    stopAt = performance.now() + opts.warmupMs
    await Promise.all(Array.from({ length: opts.connections }, worker))
    measuring = true
    const started = performance.now()
    stopAt = started + opts.durationMs
    await Promise.all(Array.from({ length: opts.connections }, worker))
    const elapsed = performance.now() - started
    measuring = false
    return { rps: latencies.length / (elapsed / 1000), requests: latencies.length, latency: summarize(latencies), tally, errors: windowErrors }
  } finally {
    await pool.close()
  }
}

// ── many streams at once ─────────────────────────────────────────────────────────────────────────────────

export interface StreamRun {
  started: number
  completed: number
  wallMs: number
  durations: Summary
  tally: Tally
}

/**
 * `n` streamed requests at once, each on its own connection (the same one, or `t(i)` for the i-th); complete =
 * 200 and the stream reached message_stop.
 */
export async function concurrentStreams(t: Target | ((i: number) => Target), n: number): Promise<StreamRun> {
  const nth = typeof t === 'function' ? t : () => t
  const pool = new Pool(nth(0).origin, { connections: n, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 })
  const tally: Tally = { answered: 0, errors: 0 }
  const durations: number[] = []
  const started = performance.now()
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        try {
          const r = await send(pool, nth(i))
          tally.answered++
          if (r.status !== 200) return fail(tally, `HTTP ${r.status}: ${r.text.slice(0, 200)}`)
          if (!r.text.includes('event: message_stop')) return fail(tally, `stream ended without message_stop: ${r.text.slice(-200)}`)
          durations.push(r.ms)
        } catch (err) {
          fail(tally, (err as Error).message)
        }
      }),
    )
  } finally {
    await pool.close()
  }
  return { started: n, completed: durations.length, wallMs: performance.now() - started, durations: summarize(durations), tally }
}
