import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
