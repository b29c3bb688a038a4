import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { GatewayError } from '../http/errors.ts'
import { parseWith } from '../http/body.ts'
import { SESSION_COOKIE, checkAdminKey, foreignOrigin, refuseCrossSite, sessionCookie } from './auth.ts'
import type { FailedAttempts } from './failed-attempts.ts'
import type { SessionStore } from './session-store.ts'

const signIn = z.strictObject({ key: z.string({ error: 'is required (the admin key)' }).min(1, 'is required (the admin key)').max(1024) })

/**
 * The web app's sign-in: the admin key is exchanged for a session cookie, so the key itself never stays in
 * the browser. POST /api/session signs in, GET tells when the session ends, DELETE signs out on the server.
 */
export function sessionRoutes(app: FastifyInstance, deps: { adminKey: string; attempts: FailedAttempts; sessions: SessionStore; traceUrl?: string }): void {
  const { sessions } = deps

  app.post('/api/session', async (req, reply) => {
    // No cookie to protect yet, but a sign-in from another site's page is refused all the same.
    if (foreignOrigin(req)) throw new GatewayError(403, 'cross-site request refused')
    const { key } = parseWith(signIn, req.body ?? {})
    checkAdminKey(req, key, deps.adminKey, deps.attempts, 'wrong admin key')
    const session = sessions.create()
    setCookie(reply, req, session.id, Math.floor(sessions.ttlMs / 1000))
    return reply.code(204).send()
  })

  app.get('/api/session', async (req, reply) => {
    const id = sessionCookie(req)
    if (id === undefined) throw new GatewayError(401, 'not signed in')
    const expiresAt = sessions.expiresAt(id)
    if (expiresAt === undefined) throw new GatewayError(401, 'session expired')
    noStore(reply)
    // what the app needs to know of the gateway's settings, once signed in
    return { expires_at: new Date(expiresAt).toISOString(), ...(deps.traceUrl ? { trace_url: deps.traceUrl } : {}) }
  })

  app.delete('/api/session', async (req, reply) => {
    const id = sessionCookie(req)
    if (id !== undefined) {
      refuseCrossSite(req)
      sessions.delete(id)
    }
    setCookie(reply, req, '', 0)
    return reply.code(204).send()
  })
}

function setCookie(reply: FastifyReply, req: FastifyRequest, value: string, maxAgeSeconds: number): void {
  // Secure when the client reached us over HTTPS (directly, or through a trusted proxy's X-Forwarded-Proto):
  // a Secure cookie set over plain HTTP would never be sent back, and local http://localhost use must work.
  const secure = req.protocol === 'https' ? '; Secure' : ''
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`)
  noStore(reply)
}

const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store')
