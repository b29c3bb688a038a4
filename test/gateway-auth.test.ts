import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { SignJWT } from 'jose'
import OpenAI from 'openai'
import Anthropic from '@anthropic-ai/sdk'
import { startTestGateway, ADMIN_KEY, type TestGateway, json } from './support/gateway.ts'
import { buildApp, createServices } from '../src/app.ts'

let t: TestGateway
beforeAll(async () => {
  t = await startTestGateway()
})
afterAll(() => t.close())

const chat = (token: string) =>
  fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
  })

describe('token administration', () => {
  it('generates a token with the Go ccproxy’s claims and lists it', async () => {
    const res = await t.admin('POST', '/api/token/generate', { name: 'carol', expires_in: '30d', mode: 'api', enable_conversation_logging: true })
    expect(res.status).toBe(200)
    const { token, id, name, mode, expires_at, enable_conversation_logging } = res.body
    expect({ name, mode, enable_conversation_logging }).toEqual({ name: 'carol', mode: 'api', enable_conversation_logging: true })
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
    expect(claims).toMatchObject({ name: 'carol', mode: 'api', jti: id, sub: 'carol', iss: 'ccproxy' })
    expect(claims.exp - claims.iat).toBe(30 * 86400)
    expect(Date.parse(expires_at)).toBe(claims.exp * 1000)
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg).toBe('HS256')

    const list = await t.admin('GET', '/api/token/list')
    const listed = list.body.tokens.find((x: any) => x.id === id)
    expect(listed).toMatchObject({ id, name: 'carol', mode: 'api', is_valid: true, enable_conversation_logging: true, total_requests: 0, total_tokens_used: 0 })
    expect(listed.revoked_at).toBeUndefined()
  })

  it('accepts 720h-style and day durations and rejects nonsense', async () => {
    const hours = await t.admin('POST', '/api/token/generate', { name: 'h', expires_in: '1h30m' })
    expect(Date.parse(hours.body.expires_at) - Date.parse(hours.body.created_at)).toBe(5_400_000)
    const bad = await t.admin('POST', '/api/token/generate', { name: 'x', expires_in: 'forever' })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatch(/expires_in/)
    const badMode = await t.admin('POST', '/api/token/generate', { name: 'x', mode: 'root' })
    expect(badMode.status).toBe(400)
    expect(badMode.body.error).toMatch(/mode/)
    const noName = await t.admin('POST', '/api/token/generate', { mode: 'api' })
    expect(noName.status).toBe(400)
  })

  it('turns conversation logging on and off; unknown ids are 404', async () => {
    const { id } = await t.mintToken({ name: 'dave' })
    const on = await t.admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: true })
    expect(on.status).toBe(200)
    expect((await t.admin('GET', '/api/token/list')).body.tokens.find((x: any) => x.id === id).enable_conversation_logging).toBe(true)
    expect((await t.admin('PUT', '/api/token/nope/settings', { enable_conversation_logging: true })).status).toBe(404)
    expect((await t.admin('PUT', `/api/token/${id}/settings`, { enable_conversation_logging: 'yes' })).status).toBe(400)
    expect((await t.admin('POST', '/api/token/revoke', { id: 'nope' })).status).toBe(404)
  })

  it('GET /api/token/info answers with the token itself', async () => {
    const { token, id } = await t.mintToken({ name: 'erin', mode: 'both' })
    const res = await fetch(`${t.url}/api/token/info`, { headers: { 'x-api-key': token } })
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ id, name: 'erin', mode: 'both', is_valid: true })
  })

  it('requires the admin key, compared exactly, and never from the query string', async () => {
    const none = await fetch(`${t.url}/api/token/list`)
    expect(none.status).toBe(401)
    expect(await json(none)).toEqual({ error: 'invalid or missing admin key' })
    const wrong = await fetch(`${t.url}/api/token/list`, { headers: { 'x-admin-key': ADMIN_KEY + 'x' } })
    expect(wrong.status).toBe(401)
    const query = await fetch(`${t.url}/api/token/list?admin_key=${ADMIN_KEY}`)
    expect(query.status).toBe(401)
  })
})

describe('client authentication', () => {
  it('takes the token as Bearer or x-api-key', async () => {
    const { token } = await t.mintToken()
    expect((await chat(token)).status).toBe(200)
    const viaKey = await new Anthropic({ baseURL: t.url, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': token }, maxRetries: 0 }).messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
    })
    expect(viaKey.type).toBe('message')
  })

  it('refuses missing, malformed, forged and unknown tokens with 401 in the route’s dialect', async () => {
    const missing = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(missing.status).toBe(401)
    expect((await json(missing)).error).toMatchObject({ type: 'authentication_error', message: expect.stringMatching(/missing/) })

    expect((await chat('not-a-jwt')).status).toBe(401)
    const forged = await new SignJWT({ name: 'mallory', mode: 'both' }).setProtectedHeader({ alg: 'HS256' }).setJti('x').setExpirationTime('1h').sign(new TextEncoder().encode('wrong secret'))
    expect((await chat(forged)).status).toBe(401)

    const secret = new TextEncoder().encode(t.gateway.config.jwt.secret)
    const unknown = await new SignJWT({ name: 'ghost', mode: 'both' }).setProtectedHeader({ alg: 'HS256' }).setJti('no-such-row').setExpirationTime('1h').sign(secret)
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${unknown}`, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: '{}',
    })
    expect(res.status).toBe(401)
    expect(await json(res)).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'token is not known to this gateway' } })
    expect(t.upstream.requests.filter((r) => r.body?.messages?.[0]?.content === 'hi' && r.apiKey === undefined)).toEqual([])
  })

  it('refuses an expired token', async () => {
    const { token } = await t.mintToken({ expires_in: '1s' })
    expect((await chat(token)).status).toBe(200)
    await new Promise((r) => setTimeout(r, 1100))
    const res = await chat(token)
    expect(res.status).toBe(401)
    expect((await json(res)).error.message).toMatch(/expired/)
  })

  it('a web-only token is refused on the API routes with 403', async () => {
    const { token } = await t.mintToken({ mode: 'web' })
    const res = await chat(token)
    expect(res.status).toBe(403)
    const err = await new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError)
  })

  it('keeps accepting tokens minted by the Go ccproxy with the same secret once their rows exist', async () => {
    const secret = new TextEncoder().encode(t.gateway.config.jwt.secret)
    const id = '6f1c2f9e-8d0a-4b6e-9f51-0c2a7d3e4b5a'
    const now = Math.floor(Date.now() / 1000)
    // jwt-go writes these claims in this order, HS256, no typ requirement
    const goToken = await new SignJWT({ name: 'legacy-user', mode: 'api', jti: id, sub: 'legacy-user', iss: 'ccproxy', iat: now, exp: now + 3600 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(secret)
    expect((await chat(goToken)).status).toBe(401)
    await t.gateway.services.warehouse.tokens.save({
      id,
      name: 'legacy-user',
      mode: 'api',
      created_at: new Date(now * 1000),
      expires_at: new Date((now + 3600) * 1000),
      revoked_at: null,
      enable_conversation_logging: false,
    })
    t.gateway.services.tokens.forget(id)
    expect((await chat(goToken)).status).toBe(200)
  })
})

describe('the token is checked before the body is read', () => {
  const BODY_BYTES = 30 * 1024 * 1024
  /**
   * Declares a 30 MB body and sends it slowly, 64 KiB every 20 ms (the whole would take ~10 s); resolves with
   * what came back and how much had been sent when the answer arrived.
   */
  function slowUpload(path: string, headers: Record<string, string>): Promise<{ response: string; sentBytes: number; closed: boolean }> {
    const url = new URL(t.url)
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname)
      let sent = 0
      let response = ''
      let timer: NodeJS.Timeout | undefined
      const finish = (closed: boolean) => {
        clearInterval(timer)
        socket.destroy()
        resolve({ response, sentBytes: sent, closed })
      }
      socket.on('error', () => finish(true))
      socket.on('close', () => finish(true))
      socket.on('data', (d) => {
        response += d.toString('latin1')
        // the whole answer is in once its JSON body is
        if (/\r\n\r\n\{.*\}$/s.test(response)) setTimeout(() => finish(socket.destroyed), 50)
      })
      const head = Object.entries({ host: url.host, 'content-type': 'application/json', 'content-length': String(BODY_BYTES), ...headers })
      socket.write(`POST ${path} HTTP/1.1\r\n${head.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n{"model":"m","messages":[{"role":"user","content":"`)
      const chunk = Buffer.alloc(64 * 1024, 'a')
      timer = setInterval(() => {
        if (sent + chunk.length > BODY_BYTES - 1000 || socket.destroyed) return
        socket.write(chunk)
        sent += chunk.length
      }, 20)
      setTimeout(() => reject(new Error(`no answer while uploading; ${sent} bytes sent`)), 8_000)
    })
  }

  it('an unauthenticated 30 MB POST gets its 401 while the client is still sending', async () => {
    for (const [path, headers] of [
      ['/v1/chat/completions', {}],
      ['/v1/messages', { 'anthropic-version': '2023-06-01' }],
      ['/v1/chat/completions', { authorization: 'Bearer not-a-token' }],
      ['/v1/messages', { 'x-api-key': 'sk-ant-api03-not-ours', 'anthropic-version': '2023-06-01' }],
    ] as const) {
      const { response, sentBytes } = await slowUpload(path, headers)
      expect(response, path).toMatch(/^HTTP\/1\.1 401 /)
      expect(response.toLowerCase()).toContain('connection: close')
      expect(sentBytes).toBeLessThan(BODY_BYTES / 10)
    }
  })

  it('the open telemetry sink answers before reading what it drops', async () => {
    const { response, sentBytes } = await slowUpload('/api/event_logging/batch', {})
    expect(response).toMatch(/^HTTP\/1\.1 200 /)
    expect(response).toContain('{"success":true}')
    expect(sentBytes).toBeLessThan(BODY_BYTES / 10)
  })

  it('a client that sends the whole 30 MB at once still reads the 401', async () => {
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: Buffer.alloc(BODY_BYTES, 'a'),
    })
    expect(res.status).toBe(401)
    expect(await json(res)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
  })
})

describe('revocation', () => {
  it('takes effect at once on this replica and within the cache TTL on another', async () => {
    const { token, id } = await t.mintToken({ name: 'frank' })
    // a second replica: its own app, token cache and account pool over the same ClickHouse
    const services = createServices({ ...t.gateway.config, auth: { token_cache_ttl: 300 } }, t.gateway.services.warehouse, () => {})
    await services.accounts.reload()
    const replica = buildApp(services)
    const ask = () =>
      replica.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      })
    expect((await chat(token)).status).toBe(200)
    expect((await ask()).statusCode).toBe(200)

    const revoked = await t.admin('POST', '/api/token/revoke', { id })
    expect(revoked.status).toBe(200)
    expect((await chat(token)).status).toBe(401)
    await new Promise((r) => setTimeout(r, 350))
    const res = await ask()
    expect(res.statusCode).toBe(401)
    expect(res.json().error.message).toBe('token has been revoked')

    const listed = (await t.admin('GET', '/api/token/list')).body.tokens.find((x: any) => x.id === id)
    expect(listed.is_valid).toBe(false)
    expect(listed.revoked_at).toBeTruthy()
    await replica.close()
    await services.close()
  })
})
