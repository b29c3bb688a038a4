// Admin traffic that competes with the gateway for the machine: heavy admin queries back to back, and a
// large export read to its end, each on a loop, until stopped.

import { Agent, request } from 'undici'

export interface AnalyticTally {
  queries: number
  exports: number
  exportBytes: number
  errors: number
  firstError?: string
}

export interface AnalyticLoad {
  stop(): Promise<AnalyticTally>
}

export function analyticLoad(gatewayUrl: string, adminKey: string, opts: { queries: string[]; exportPath: string }): AnalyticLoad {
  const agent = new Agent({ connections: 4, headersTimeout: 600_000, bodyTimeout: 600_000 })
  const tally: AnalyticTally = { queries: 0, exports: 0, exportBytes: 0, errors: 0 }
  let stopping = false
  const get = async (path: string, onBytes?: (n: number) => void): Promise<boolean> => {
    try {
      const res = await request(`${gatewayUrl}${path}`, { dispatcher: agent, headers: { 'x-admin-key': adminKey } })
      for await (const chunk of res.body) onBytes?.((chunk as Buffer).length)
      if (res.statusCode === 200) return true
      tally.errors++
      tally.firstError ??= `HTTP ${res.statusCode} for ${path}`
    } catch (err) {
      tally.errors++
      tally.firstError ??= `${path}: ${(err as Error).message}`
    }
    return false
  }
  const queries = (async () => {
    for (let i = 0; !stopping; i++) if (await get(opts.queries[i % opts.queries.length]!)) tally.queries++
  })()
  const exports = (async () => {
    while (!stopping) if (await get(opts.exportPath, (n) => (tally.exportBytes += n))) tally.exports++
  })()
  return {
    async stop() {
      stopping = true
      await Promise.all([queries, exports])
      await agent.close()
      return tally
    },
  }
}
