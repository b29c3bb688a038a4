import { describe, expect, it } from 'vitest'
import { Startup, type StartupStep } from '../src/startup.ts'

class Fatal extends Error {}

/** A step that fails with each of `errors` in turn, then succeeds; counts its runs. */
function step(name: string, ...errors: Error[]): StartupStep & { runs: number } {
  const s = {
    name,
    runs: 0,
    async run() {
      const err = errors[s.runs++]
      if (err) throw err
    },
  }
  return s
}

function startup(steps: StartupStep[], retry = true) {
  const lines: string[] = []
  const log = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) }
  const s = new Startup(steps, { retry, fatal: (err) => err instanceof Fatal, describe: (st) => `could not ${st.name} yet`, log, minDelayMs: 1, maxDelayMs: 4 })
  return { s, lines }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
}

describe('start-up against a ClickHouse server that does not answer yet', () => {
  it('retries in the background, resumes at the step that failed, and logs once per change of problem', async () => {
    const down = new Error('connect ECONNREFUSED')
    const connect = step('connect', down, down, down, down, new Error('authentication failed'))
    const tokens = step('read the tokens', new Error('timeout'))
    const { s, lines } = startup([connect, tokens])
    await s.first()
    expect(s.state).toEqual({ phase: 'starting', reason: 'could not connect yet' })
    await until(() => s.state.phase === 'ready')
    expect(s.state).toEqual({ phase: 'ready' })
    expect([connect.runs, tokens.runs]).toEqual([6, 2]) // connect is not run again once it worked
    expect(lines).toEqual([
      'warn ccproxy is not ready, it retries in the background (/ready answers 503 until then): connect: connect ECONNREFUSED',
      'warn ccproxy is not ready, it retries in the background (/ready answers 503 until then): connect: authentication failed',
      'warn ccproxy is not ready, it retries in the background (/ready answers 503 until then): read the tokens: timeout',
      'info ClickHouse answers: the schema is migrated, tokens and accounts are read; ccproxy is ready',
    ])
  })

  it('a fatal error on the first attempt stops start-up; on a later one it stops retrying and says so', async () => {
    const first = startup([step('migrate', new Fatal('migration 0003 changed'))])
    await expect(first.s.first()).rejects.toThrow('migration 0003 changed')

    const later = step('migrate', new Error('down'), new Fatal('migration 0003 changed'))
    const { s, lines } = startup([later])
    await s.first()
    await until(() => s.state.phase === 'failed')
    await new Promise((r) => setTimeout(r, 50))
    expect(later.runs).toBe(2)
    expect(s.state).toEqual({ phase: 'failed', reason: 'stopped: migrate needs an operator (see the log)' })
    expect(lines.at(-1)).toBe('error ccproxy cannot start: migrate: migration 0003 changed')
  })

  it('without retry (the embedded engine) the first error is start-up\'s', async () => {
    const { s, lines } = startup([step('migrate', new Error('engine locked'))], false)
    await expect(s.first()).rejects.toThrow('engine locked')
    expect(lines).toEqual([])
  })

  it('stop() ends the retries', async () => {
    const down = step('connect', ...Array.from({ length: 1000 }, () => new Error('down')))
    const { s } = startup([down])
    await s.first()
    await until(() => down.runs >= 3)
    await s.stop()
    const runs = down.runs
    await new Promise((r) => setTimeout(r, 50))
    expect(down.runs).toBe(runs)
    expect(s.state.phase).toBe('starting')
  })
})
