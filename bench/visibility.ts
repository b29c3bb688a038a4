// Row visibility: how long after a response has ended (client side) its request_logs row can be read.

import type { ClickHouseClient } from '@clickhouse/client'
import { Pool } from 'undici'
import { send, summarize, type Summary, type Tally, type Target } from './load.ts'
import { sleep } from './processes.ts'

export interface Visibility {
  lag: Summary
  /** round trip of one poll query: the resolution of `lag` */
  poll: Summary
  polls: number
  /** rows not seen within the timeout */
  missing: number
  tally: Tally
}

/**
 * Sends `samples` requests at `rps` (open loop, fixed schedule). Each answer's x-ccproxy-request-id joins a
 * pending set; one poller asks ClickHouse (HTTP interface) every `pollEveryMs` which pending ids are
 * there — `SELECT id FROM request_logs WHERE token_id = … AND id IN (…)`, the same as polling each id with
 * `WHERE id = {id:UUID}` but one query per tick, so the polling itself does not load the engine. A row's lag
 * is the end of the poll that first returned it minus the end of its response: an upper bound, off by at
 * most one poll round trip.
 */
export async function rowVisibility(
  t: Target,
  ch: ClickHouseClient,
  opts: { tokenId: string; samples: number; rps: number; pollEveryMs: number; timeoutMs: number },
): Promise<Visibility> {
  const pool = new Pool(t.origin, { connections: 8, pipelining: 1 })
  const pending = new Map<string, number>()
  const lags: number[] = []
  const polls: number[] = []
  const tally: Tally = { answered: 0, errors: 0 }
  let sending = true

  const sender = (async () => {
    const start = performance.now()
    const inFlight: Promise<void>[] = []
    for (let i = 0; i < opts.samples; i++) {
      const due = start + (i * 1000) / opts.rps
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      inFlight.push(
        send(pool, t).then(
          (r) => {
            tally.answered++
            if (r.status !== 200 || !r.requestId) {
              tally.errors++
              tally.firstError ??= `HTTP ${r.status}: ${r.text.slice(0, 200)}`
            } else pending.set(r.requestId, performance.now())
          },
          (err: Error) => {
            tally.errors++
            tally.firstError ??= err.message
          },
        ),
      )
    }
    await Promise.all(inFlight)
    sending = false
  })()

  const poller = (async () => {
    let deadline = Infinity
    while (sending || pending.size > 0) {
      if (!sending && deadline === Infinity) deadline = performance.now() + opts.timeoutMs
      if (performance.now() > deadline) break
      if (pending.size > 0) {
        const ids = [...pending.keys()]
        const t0 = performance.now()
        const rs = await ch.query({
          // (an alias named id would shadow the column in WHERE)
          query: 'SELECT toString(id) AS rid FROM request_logs WHERE token_id = {token:String} AND id IN {ids:Array(UUID)}',
          query_params: { token: opts.tokenId, ids },
          format: 'JSONEachRow',
        })
        const found = await rs.json<{ rid: string }>()
        const t1 = performance.now()
        polls.push(t1 - t0)
        for (const { rid: id } of found) {
          const ended = pending.get(id)
          if (ended === undefined) continue
          lags.push(t1 - ended)
          pending.delete(id)
        }
      }
      await sleep(opts.pollEveryMs)
    }
  })()

  try {
    await Promise.all([sender, poller])
  } finally {
    await pool.close()
  }
  return { lag: summarize(lags), poll: summarize(polls), polls: polls.length, missing: pending.size, tally }
}
