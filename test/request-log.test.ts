import { describe, expect, it } from 'vitest'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { createLogger, RequestLog } from '../src/logging.ts'

/** A fastify app logging at `level` through the gateway's logger and request log, and the lines it wrote. */
function appWithLog(level: string) {
  const lines: any[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  const app = Fastify({ loggerInstance: createLogger(level, sink), logController: new RequestLog(['/health', '/ready', '/metrics']) })
  for (const path of ['/health', '/ready', '/metrics', '/v1/thing/:id']) app.get(path, async () => ({ ok: true }))
  return { app, lines }
}

describe('request log lines', () => {
  it('one line per request, naming the route, the status and the time', async () => {
    const { app, lines } = appWithLog('info')
    await app.inject({ method: 'GET', url: '/v1/thing/secret-looking-id?api_key=sk-x' })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET', route: '/v1/thing/:id' }, res: { statusCode: 200 } })
    expect(typeof lines[0].responseTime).toBe('number')
    expect(JSON.stringify(lines[0])).not.toContain('sk-x')
  })

  it('probes and scrapes are not logged at info, and are at debug', async () => {
    const quiet = appWithLog('info')
    for (const url of ['/health', '/ready', '/metrics']) await quiet.app.inject({ method: 'GET', url })
    expect(quiet.lines).toEqual([])
    const verbose = appWithLog('debug')
    for (const url of ['/health', '/ready', '/metrics']) await verbose.app.inject({ method: 'GET', url })
    expect(verbose.lines.map((l) => l.req.route)).toEqual(['/health', '/ready', '/metrics'])
  })
})
