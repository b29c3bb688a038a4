// Open-loop load at a fixed rate for a while, sampling the gateway's memory as it goes.

import { Pool } from 'undici'
import { send, summarize, type Summary, type Tally, type Target } from './load.ts'

export interface SteadyRun {
  sent: number
  tally: Tally
  latency: Summary
  /** (time since start, RSS in bytes) every sampleEveryMs */
  samples: Array<{ atMs: number; rss: number }>
}

/**
 * `rps` requests a second for `durationMs`, whatever the answers' pace (at most `connections` in flight; a
 * request that would exceed it is skipped and counted as an error). `next(i)` makes the i-th request.
 */
export async function steadyLoad(
  origin: string,
  next: (i: number) => Target,
  opts: { rps: number; durationMs: number; sampleEveryMs: number; connections: number },
  rss: () => number,
): Promise<SteadyRun> {
  const pool = new Pool(origin, { connections: opts.connections, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 })
  const tally: Tally = { answered: 0, errors: 0 }
  const latencies: number[] = []
  const samples: SteadyRun['samples'] = []
  const inflight = new Set<Promise<void>>()
  const started = performance.now()
  let sent = 0
  let nextSample = 0
  try {
    for (;;) {
      const elapsed = performance.now() - started
      if (elapsed >= nextSample) {
        samples.push({ atMs: elapsed, rss: rss() })
        nextSample += opts.sampleEveryMs
      }
      if (elapsed >= opts.durationMs) break
      const due = Math.floor((elapsed / 1000) * opts.rps)
      while (sent < due) {
        const i = sent++
        if (inflight.size >= opts.connections) {
          tally.errors++
          tally.firstError ??= `more than ${opts.connections} requests in flight`
          continue
        }
        const one = send(pool, next(i)).then(
          (r) => {
            tally.answered++
            if (r.status !== 200) {
              tally.errors++
              tally.firstError ??= `HTTP ${r.status}: ${r.text.slice(0, 200)}`
            } else latencies.push(r.ms)
          },
          (err: unknown) => {
            tally.errors++
            tally.firstError ??= (err as Error).message
          },
        )
        inflight.add(one)
        void one.finally(() => inflight.delete(one))
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    await Promise.all(inflight)
  } finally {
    await pool.close()
  }
  return { sent, tally, latency: summarize(latencies), samples }
}
