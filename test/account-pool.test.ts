import { describe, expect, it } from 'vitest'
import { AccountPool, type UpstreamAccount, type KeyStrategy } from '../src/accounts/pool.ts'

const account = (id: string, priority = 0, isActive = true): UpstreamAccount => ({
  id,
  name: id,
  type: 'api_key',
  apiKey: `sk-ant-${id}-0000000000000000`,
  priority,
  isActive,
  source: 'stored',
})

function pool(strategy: KeyStrategy = 'round_robin', accounts = [account('a'), account('b'), account('c')]) {
  let now = 1_000_000
  const p = new AccountPool({ strategy, authFailureCooldownMs: 60_000, rateLimitCooldownMs: 30_000, now: () => now })
  p.setAccounts(accounts)
  return { p, advance: (ms: number) => (now += ms) }
}

const pickId = (p: AccountPool, exclude?: Set<string>) => p.pick(exclude).account?.id

describe('account selection', () => {
  it('round_robin cycles through the healthy accounts', () => {
    const { p } = pool()
    expect([1, 2, 3, 4, 5, 6].map(() => pickId(p))).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
  })

  it('random draws from the healthy accounts', () => {
    const draws = [0.1, 0.5, 0.9]
    const p = new AccountPool({ strategy: 'random', authFailureCooldownMs: 1, rateLimitCooldownMs: 1, random: () => draws.shift()! })
    p.setAccounts([account('a'), account('b'), account('c')])
    expect([pickId(p), pickId(p), pickId(p)]).toEqual(['a', 'b', 'c'])
  })

  it('least_loaded picks the account with fewest requests in flight', () => {
    const { p } = pool('least_loaded')
    const releaseA = p.acquire('a')
    p.acquire('b')
    expect(pickId(p)).toBe('c')
    p.acquire('c')
    p.acquire('c')
    releaseA()
    expect(pickId(p)).toBe('a')
  })

  it('prefers the lowest priority number and falls back to the next tier', () => {
    const { p } = pool('round_robin', [account('backup', 5), account('main', 0)])
    expect(pickId(p)).toBe('main')
    expect(pickId(p, new Set(['main']))).toBe('backup')
  })

  it('skips inactive and excluded accounts', () => {
    const { p } = pool('round_robin', [account('a', 0, false), account('b'), account('c')])
    expect(pickId(p, new Set(['b']))).toBe('c')
    expect(pickId(p, new Set(['b', 'c']))).toBeUndefined()
  })
})

describe('account health', () => {
  it('a 401 rests the account for the cool-down, then it is tried again', () => {
    const { p, advance } = pool('round_robin', [account('a'), account('b')])
    p.report('a', { kind: 'auth_failure' })
    expect(p.health('a').status).toBe('unhealthy')
    expect([pickId(p), pickId(p), pickId(p)]).toEqual(['b', 'b', 'b'])
    advance(60_001)
    expect(p.health('a').status).toBe('healthy')
    expect(new Set([pickId(p), pickId(p)])).toEqual(new Set(['a', 'b']))
  })

  it('repeated auth failures rest the account longer each time', () => {
    const { p, advance } = pool('round_robin', [account('a')])
    p.report('a', { kind: 'auth_failure' })
    advance(60_001)
    p.report('a', { kind: 'auth_failure' })
    advance(60_001)
    expect(p.health('a').status).toBe('unhealthy')
    advance(60_000)
    expect(p.health('a').status).toBe('healthy')
  })

  it('a 403 is counted for the admin view but never rests the account: it answers one request, not the key', () => {
    const { p } = pool('round_robin', [account('a')])
    for (let i = 0; i < 5; i++) p.report('a', { kind: 'not_permitted' })
    expect(p.health('a')).toMatchObject({
      status: 'healthy',
      cooldown_until: null,
      error_count: 5,
      last_error: 'upstream refused a request as not permitted (403)',
    })
    expect(pickId(p)).toBe('a')
  })

  it('a 429 rests the account for retry-after, or the configured cool-down', () => {
    const { p, advance } = pool('round_robin', [account('a'), account('b')])
    p.report('a', { kind: 'rate_limited', retryAfterMs: 5_000 })
    p.report('b', { kind: 'rate_limited' })
    expect(p.health('a').status).toBe('cooling_down')
    const none = p.pick()
    expect(none.account).toBeUndefined()
    expect(none).toMatchObject({ retryAfterMs: 5_000 })
    advance(5_001)
    expect(pickId(p)).toBe('a')
    advance(25_000)
    expect(p.health('b').status).toBe('healthy')
  })

  it('overload (529/5xx) does not rest the account: the service is struggling, not the key', () => {
    const { p } = pool('round_robin', [account('a')])
    p.report('a', { kind: 'overloaded', status: 529 })
    expect(p.health('a')).toMatchObject({ status: 'healthy', error_count: 1, last_error: 'upstream error (529)' })
    expect(pickId(p)).toBe('a')
  })

  it('keeps health across a reload of the same accounts and forgets removed ones', () => {
    const { p } = pool('round_robin', [account('a'), account('b')])
    p.report('a', { kind: 'auth_failure' })
    p.setAccounts([account('a'), account('b')])
    expect(p.health('a').status).toBe('unhealthy')
    p.setAccounts([account('b')])
    p.setAccounts([account('a'), account('b')])
    expect(p.health('a').status).toBe('healthy')
  })

  it('counts successes and errors and tracks requests in flight', () => {
    const { p } = pool('round_robin', [account('a')])
    const release = p.acquire('a')
    p.report('a', { kind: 'success' })
    p.report('a', { kind: 'connection_error', message: 'ECONNREFUSED' })
    expect(p.health('a')).toMatchObject({ success_count: 1, error_count: 1, in_flight: 1, last_error: 'connection failed: ECONNREFUSED' })
    release()
    release()
    expect(p.health('a').in_flight).toBe(0)
  })
})
