import { describe, expect, it } from 'vitest'
import { AccountPool, describeChange, type ConditionChange } from '../src/accounts/pool.ts'

function watched() {
  let now = 1_000_000
  const p = new AccountPool({ strategy: 'round_robin', authFailureCooldownMs: 1000, rateLimitCooldownMs: 1000, now: () => now })
  p.setAccounts([{ id: 'acc_1', name: 'team-main', type: 'api_key', apiKey: 'sk-ant-x-0000', priority: 0, isActive: true, source: 'stored' }])
  const changes: ConditionChange[] = []
  p.onChange = (c) => changes.push(c)
  return { p, changes, seen: () => changes.map((c) => `${c.from}>${c.to}`), advance: (ms: number) => (now += ms) }
}

describe('account condition changes', () => {
  it('connection refused a hundred times is one change, and recovery another', () => {
    const { p, changes, seen } = watched()
    for (let i = 0; i < 100; i++) p.report('acc_1', { kind: 'connection_error', message: 'ECONNREFUSED' })
    expect(seen()).toEqual(['ok>unreachable'])
    expect(describeChange(changes[0]!)).toBe('upstream account team-main is unreachable: connection failed: ECONNREFUSED')
    p.report('acc_1', { kind: 'success' })
    p.report('acc_1', { kind: 'success' })
    expect(seen()).toEqual(['ok>unreachable', 'unreachable>ok'])
    expect(describeChange(changes[1]!)).toBe('upstream account team-main is answering again')
  })

  it('one 5xx is a hiccup; three in a row make the account failing', () => {
    const { p, seen } = watched()
    p.report('acc_1', { kind: 'overloaded', status: 529 })
    p.report('acc_1', { kind: 'overloaded', status: 500 })
    p.report('acc_1', { kind: 'success' })
    p.report('acc_1', { kind: 'overloaded', status: 500 })
    p.report('acc_1', { kind: 'overloaded', status: 502 })
    expect(seen()).toEqual([])
    for (let i = 0; i < 20; i++) p.report('acc_1', { kind: 'overloaded', status: 503 })
    expect(seen()).toEqual(['ok>failing'])
  })

  it('a refused key stays one change however often it is refused; a 429 or 403 changes nothing', () => {
    const { p, seen, advance } = watched()
    for (let i = 0; i < 5; i++) {
      p.report('acc_1', { kind: 'auth_failure' })
      advance(60_000)
    }
    p.report('acc_1', { kind: 'rate_limited' })
    p.report('acc_1', { kind: 'not_permitted' })
    expect(seen()).toEqual(['ok>refused'])
    p.report('acc_1', { kind: 'connection_error', message: 'ECONNRESET' })
    expect(seen()).toEqual(['ok>refused', 'refused>unreachable'])
  })
})
