import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import net from 'node:net'
import { loadConfig } from '../src/config.ts'
import { applyBetaPolicy, DROPPED_BETAS_HEADER } from '../src/gateway/betas.ts'
import { classify, moreMeaningful, type AttemptFailure } from '../src/gateway/failover.ts'
import { startMockAnthropic, type Scenario } from './support/mock-anthropic.ts'
import { eventually, startTestGateway, UPSTREAM_KEYS, type TestGateway } from './support/gateway.ts'

const MODEL = 'claude-sonnet-4-6'
const FORBIDDEN_MODEL = 'claude-opus-4-8'
const ask = (content = 'hello') => ({ model: MODEL, max_tokens: 10, messages: [{ role: 'user' as const, content }] })

describe('what an upstream error means', () => {
  it.each([
    [401, 'key_refused'],
    [403, 'not_permitted'],
    [429, 'rate_limited'],
    [500, 'upstream_error'],
    [503, 'upstream_error'],
    [529, 'upstream_error'],
    [400, 'final'],
    [404, 'final'],
    [413, 'final'],
  ])('%i is %s', (status, expected) => expect(classify(status)).toBe(expected))
})

describe('which failure the client sees when every attempt failed', () => {
  const parse = (s: string): AttemptFailure => (s === 'conn' ? { kind: 'unreachable' } : s === '401' ? { kind: 'auth_failed' } : { kind: 'failed', status: Number(s) })
  const seen = (f: AttemptFailure) => (f.kind === 'failed' ? String(f.status) : f.kind)
  it.each([
    ['429 401', '429'],
    ['401 429', '429'],
    ['529 429', '429'],
    ['429 500', '429'],
    ['403 529', '529'],
    ['500 403', '500'],
    ['401 403', '403'],
    ['403 401', '403'],
    ['conn 403', '403'],
    ['401 conn', 'unreachable'],
    ['conn 401', 'unreachable'],
    ['401 401 401', 'auth_failed'],
    ['529 500', '500'],
    ['500 529 401', '529'],
  ])('attempts %s → %s', (attempts, expected) => {
    const final = attempts.split(' ').map(parse).reduce<AttemptFailure | undefined>((acc, f) => moreMeaningful(acc, f), undefined)
    expect(seen(final!)).toBe(expected)
  })
})

describe('anthropic-beta policy', () => {
  const allow = (...names: string[]) => ({ policy: 'allow_list' as const, allowed: new Set(names) })
  it.each([
    ['forward keeps the header as sent', { policy: 'forward' as const }, 'b-1, x-2', 'b-1, x-2', []],
    ['allow_list keeps the listed betas', allow('b-1', 'c-3'), 'b-1, x-2,c-3', 'b-1,c-3', ['x-2']],
    ['allow_list drops the header when nothing is left', allow('b-1'), 'x-2', undefined, ['x-2']],
    ['an empty allow-list sends no betas', allow(), 'b-1', undefined, ['b-1']],
  ])('%s', (_, policy, sent, forwarded, dropped) => {
    const out = applyBetaPolicy({ 'content-type': 'application/json', 'anthropic-beta': sent }, policy)
    expect(out.headers['anthropic-beta']).toBe(forwarded)
    expect(out.headers['content-type']).toBe('application/json')
    expect(out.dropped).toEqual(dropped)
  })

  it('a request without betas is left alone', () => {
    expect(applyBetaPolicy({ accept: 'x' }, allow('b-1'))).toEqual({ headers: { accept: 'x' }, dropped: [] })
  })

  it('config: forward by default, allow_list from the environment, a list without the policy refused', () => {
    expect(loadConfig({ file: 'config.yaml', env: {} }).claude).toMatchObject({ beta_policy: 'forward', beta_allow_list: [] })
    const env = { CCPROXY_CLAUDE_BETA_POLICY: 'allow_list', CCPROXY_CLAUDE_BETA_ALLOW_LIST: 'claude-code-20250219, context-1m-2025-08-07' }
    expect(loadConfig({ file: 'config.yaml', env }).claude).toMatchObject({
      beta_policy: 'allow_list',
      beta_allow_list: ['claude-code-20250219', 'context-1m-2025-08-07'],
    })
    expect(() => loadConfig({ file: 'config.yaml', env: { CCPROXY_CLAUDE_BETA_ALLOW_LIST: 'claude-code-20250219' } })).toThrow(
      /claude\.beta_allow_list .*only used with claude\.beta_policy: allow_list/,
    )
    expect(() => loadConfig({ file: 'config.yaml', env: { CCPROXY_CLAUDE_BETA_POLICY: 'refuse' } })).toThrow(/claude\.beta_policy/)
  })
})

describe('through the gateway', () => {
  let t: TestGateway
  let token: string
  const anthropic = () => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
  const openai = () => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
  const accounts = async () => (await t.admin('GET', '/api/account/list')).body as Array<{ name: string; status: string; cooldown_until: string | null; error_count: number }>
  const forgetHealth = async () => {
    t.gateway.services.pool.setAccounts([])
    await t.gateway.services.accounts.reload()
  }

  beforeAll(async () => {
    t = await startTestGateway()
    token = (await t.mintToken({ name: 'upstream-failover', mode: 'api' })).token
  })
  afterAll(() => t.close())
  beforeEach(async () => {
    t.upstream.reset()
    await forgetHealth()
  })

  it('a request upstream refuses with 403 gets that 403 and leaves every account healthy (the exploit)', async () => {
    t.upstream.deny({ model: FORBIDDEN_MODEL })
    for (let i = 0; i < 3; i++) {
      const err = await anthropic().messages.create({ ...ask(), model: FORBIDDEN_MODEL }).catch((e) => e)
      expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError)
      expect(err.status).toBe(403)
      expect(err.error).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('does not have permission') } })
    }
    for (const account of await accounts()) expect(account).toMatchObject({ status: 'healthy', cooldown_until: null })
    // every account was asked, none was rested, and the next ordinary request is served
    expect(new Set(t.upstream.requests.map((r) => r.apiKey))).toEqual(new Set(UPSTREAM_KEYS))
    const msg = await anthropic().messages.create(ask('still served'))
    expect(msg.content[0]).toMatchObject({ text: 'Echo: still served' })
  })

  it('the same on the OpenAI route, with the 403 in OpenAI’s shape', async () => {
    t.upstream.deny({ model: FORBIDDEN_MODEL })
    const err = await openai().chat.completions.create({ model: FORBIDDEN_MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(err.error).toMatchObject({ type: 'permission_error', param: null, message: expect.stringContaining('does not have permission') })
    for (const account of await accounts()) expect(account.status).toBe('healthy')
    const ok = await openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'served' }] })
    expect(ok.choices[0]!.message.content).toBe('Echo: served')
  })

  it('a beta the keys may not use is relayed as 403 without resting anyone', async () => {
    t.upstream.deny({ beta: 'context-1m-2025-08-07' })
    const err = await anthropic().beta.messages.create({ ...ask(), betas: ['context-1m-2025-08-07'] }).catch((e) => e)
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError)
    for (const account of await accounts()) expect(account.status).toBe('healthy')
    expect((await anthropic().messages.create(ask('after beta'))).content[0]).toMatchObject({ text: 'Echo: after beta' })
  })

  it('a 403 from one key moves on to the next account, which serves the request', async () => {
    t.upstream.deny({ model: FORBIDDEN_MODEL, apiKey: UPSTREAM_KEYS[0]! })
    for (let i = 0; i < 2; i++) {
      const msg = await anthropic().messages.create({ ...ask('other org'), model: FORBIDDEN_MODEL })
      expect(msg.content[0]).toMatchObject({ text: 'Echo: other org' })
    }
    expect(t.upstream.requests.filter((r) => r.apiKey === UPSTREAM_KEYS[1]).length).toBe(2)
    const list = await accounts()
    expect(list.every((a) => a.status === 'healthy')).toBe(true)
    expect(list.find((a) => a.name === 'config key 1')!.error_count).toBeGreaterThan(0)
  })

  it('a 401 still rests the account and the next one serves', async () => {
    t.upstream.forKey(UPSTREAM_KEYS[0]!, { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' })
    for (let i = 0; i < 2; i++) expect((await anthropic().messages.create(ask('ok'))).content[0]).toMatchObject({ text: 'Echo: ok' })
    expect((await accounts()).find((a) => a.name === 'config key 1')).toMatchObject({ status: 'unhealthy', cooldown_until: expect.any(String) })
  })

  const error = (status: number, extra: Partial<Extract<Scenario, { kind: 'error' }>> = {}): Scenario => ({ kind: 'error', status, ...extra })
  it.each<[string, number, string, Scenario[]]>([
    ['429 then 401', 429, 'rate_limit_error', [error(429, { headers: { 'retry-after': '7' } }), error(401)]],
    ['401 then 429', 429, 'rate_limit_error', [error(401), error(429, { headers: { 'retry-after': '7' } })]],
    ['529 then 403', 529, 'overloaded_error', [error(529), error(403)]],
    ['403 then 401', 403, 'permission_error', [error(403), error(401)]],
    // a connection closed before an answer is sent once more to the same account; closed again, it fails over
    ['connection dropped (twice) then 401', 502, 'api_error', [{ kind: 'drop' }, { kind: 'drop' }, error(401)]],
    ['401 then 401', 502, 'api_error', [error(401), error(401)]],
  ])('attempts answered %s: the client gets %i %s', async (_, status, type, answers) => {
    t.upstream.enqueue(...answers)
    const err = await anthropic().messages.create(ask()).catch((e) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect(err.status).toBe(status)
    expect(err.error.error.type).toBe(type)
    if (status === 429) {
      expect(err.headers.get('retry-after')).toBe('7')
      // the record names the account whose answer the client got
      const attempt = answers.findIndex((a) => a.kind === 'error' && a.status === 429)
      const limited = t.gateway.services.pool.accounts.find((a) => a.apiKey === t.upstream.requests[attempt]!.apiKey)!
      await eventually(() => expect(t.exchanges.at(-1)).toMatchObject({ accountId: limited.id, statusCode: 429 }))
    }
    if (status === 502) expect(err.error.error.message).toMatch(answers[0]!.kind === 'drop' ? /unreachable/ : /refused by Anthropic \(401\)/)
  })

  it('429 then 401 on the OpenAI route is a 429 with its retry-after', async () => {
    t.upstream.enqueue(error(429, { headers: { 'retry-after': '7' } }), error(401))
    const err = await openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err.headers.get('retry-after')).toBe('7')
    expect(err.error).toMatchObject({ type: 'rate_limit_error' })
  })

  it('forwards betas as sent by default, and only the version and betas of the anthropic-* headers', async () => {
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219,context-1m-2025-08-07',
        'anthropic-workspace-id': 'wrkspc_someone_elses',
      },
      body: JSON.stringify(ask()),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get(DROPPED_BETAS_HEADER)).toBeNull()
    const sent = t.upstream.requests.at(-1)!.headers
    expect(sent['anthropic-beta']).toBe('claude-code-20250219,context-1m-2025-08-07')
    expect(sent['anthropic-version']).toBe('2023-06-01')
    expect(sent['anthropic-workspace-id']).toBeUndefined()
  })
})

describe('through a gateway with a beta allow-list', () => {
  let t: TestGateway
  let token: string
  const anthropic = () => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })

  beforeAll(async () => {
    t = await startTestGateway({ claude: { beta_policy: 'allow_list', beta_allow_list: ['claude-code-20250219', 'interleaved-thinking-2025-05-14'] } })
    token = (await t.mintToken({ name: 'beta-policy', mode: 'api' })).token
  })
  afterAll(() => t.close())
  beforeEach(() => t.upstream.reset())

  it('forwards only the listed betas and tells the client which it dropped', async () => {
    t.upstream.deny({ beta: 'context-1m-2025-08-07' })
    const { data, response } = await anthropic()
      .beta.messages.create({ ...ask('allowed'), betas: ['claude-code-20250219', 'context-1m-2025-08-07'] })
      .withResponse()
    expect(data.content[0]).toMatchObject({ text: 'Echo: allowed' })
    expect(response.headers.get(DROPPED_BETAS_HEADER)).toBe('context-1m-2025-08-07')
    expect(t.upstream.requests.at(-1)!.headers['anthropic-beta']).toBe('claude-code-20250219')
  })

  it('sends no anthropic-beta when none is allowed, on messages and count_tokens', async () => {
    const { response } = await anthropic().beta.messages.create({ ...ask(), betas: ['context-1m-2025-08-07'] }).withResponse()
    expect(response.headers.get(DROPPED_BETAS_HEADER)).toBe('context-1m-2025-08-07')
    const count = await anthropic().beta.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'a b c' }], betas: ['files-api-2025-04-14'] })
    expect(count.input_tokens).toBe(3)
    for (const request of t.upstream.requests) expect(request.headers['anthropic-beta']).toBeUndefined()
  })

  it('the OpenAI route sends no betas whatever the client sends', async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-beta': 'claude-code-20250219' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res.status).toBe(200)
    expect(t.upstream.requests.at(-1)!.headers['anthropic-beta']).toBeUndefined()
  })
})

describe('a connection the upstream closes before answering', () => {
  // A TCP relay in front of the mock upstream that closes the first connection once the request has reached
  // it, as an upstream closing an idle keep-alive connection just as the gateway reuses it; later ones are relayed.
  let t: TestGateway
  let relay: net.Server
  let closedFirst = 0
  beforeAll(async () => {
    const upstream = await startMockAnthropic()
    const target = new URL(upstream.url)
    relay = net.createServer((client) => {
      if (closedFirst === 0) {
        client.once('data', () => {
          closedFirst++
          client.destroy()
        })
        return
      }
      const server = net.connect(Number(target.port), target.hostname)
      client.pipe(server).pipe(client)
      const end = () => (client.destroy(), server.destroy())
      client.on('error', end)
      server.on('error', end)
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    const { port } = relay.address() as net.AddressInfo
    t = await startTestGateway({ claude: { api_url: `http://127.0.0.1:${port}`, api_keys: [UPSTREAM_KEYS[0]] } })
    onClose = async () => {
      await t.close()
      await upstream.close()
      relay.close()
    }
  })
  let onClose = async () => {}
  afterAll(() => onClose())

  it('is sent once more on a fresh connection: the one account serves it and stays healthy', async () => {
    const { token } = await t.mintToken()
    const answer = await new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 }).messages.create(ask('once more'))
    expect(answer.type).toBe('message')
    expect(closedFirst).toBe(1)
    const [account] = (await t.admin('GET', '/api/account/list')).body as Array<{ status: string; error_count: number }>
    expect(account).toMatchObject({ status: 'healthy', error_count: 0 })
  })
})
