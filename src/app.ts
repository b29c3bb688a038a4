import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyError } from 'fastify'
import type { Config } from './config.ts'
import type { Warehouse } from './warehouse/index.ts'
import type { Exchange } from './record/exchange.ts'
import { TokenSigner } from './tokens/jwt.ts'
import { TokenRegistry } from './tokens/registry.ts'
import { AccountPool } from './accounts/pool.ts'
import { AccountRegistry } from './accounts/registry.ts'
import { CredentialBox } from './secrets.ts'
import { Authenticator } from './gateway/auth.ts'
import { Upstream } from './gateway/upstream.ts'
import { GatewayError, anthropicErrorType, dialectOf, errorBody } from './gateway/errors.ts'
import type { GatewayDeps } from './gateway/deps.ts'
import { messagesRoutes } from './gateway/routes/messages.ts'
import { chatRoutes } from './gateway/routes/chat.ts'
import { modelRoutes } from './gateway/routes/models.ts'
import { serviceRoutes } from './gateway/routes/service.ts'
import { requireAdmin } from './admin/auth.ts'
import { tokenAdminRoutes, tokenInfoRoute } from './admin/tokens.ts'
import { accountAdminRoutes } from './admin/accounts.ts'
import { logAdminRoutes } from './admin/logs.ts'
import { statsAdminRoutes } from './admin/stats.ts'
import { conversationAdminRoutes } from './admin/conversations.ts'
import { pipelineAdminRoutes } from './admin/pipeline.ts'
import { metricsRoute } from './admin/metrics-route.ts'
import type { ExporterStats } from './sinks/exporter.ts'
import type { Tracing } from './sinks/tracing.ts'
import type { GatewayMetrics } from './sinks/metrics.ts'

/** The long-lived parts of a running gateway, built once from the config and the warehouse. */
export interface Services {
  config: Config
  warehouse: Warehouse
  signer: TokenSigner
  tokens: TokenRegistry
  auth: Authenticator
  pool: AccountPool
  accounts: AccountRegistry
  upstream: Upstream
  close(): Promise<void>
}

export function createServices(config: Config, warehouse: Warehouse, onError: (err: unknown) => void, tracing?: Tracing): Services {
  const signer = new TokenSigner(config.jwt.secret, config.jwt.issuer)
  const tokens = new TokenRegistry(warehouse.tokens, config.auth.token_cache_ttl, onError)
  const pool = new AccountPool({
    strategy: config.claude.key_strategy,
    authFailureCooldownMs: config.claude.auth_failure_cooldown,
    rateLimitCooldownMs: config.claude.rate_limit_cooldown,
  })
  const accounts = new AccountRegistry(warehouse.accounts, new CredentialBox(config.jwt.secret), pool, config.claude.api_keys, onError)
  const upstream = new Upstream(
    {
      apiUrl: config.claude.api_url,
      maxAttempts: config.claude.max_attempts,
      connectTimeoutMs: config.claude.connect_timeout,
      firstByteTimeoutMs: config.claude.first_byte_timeout,
      idleTimeoutMs: config.claude.idle_timeout,
    },
    pool,
    tracing,
  )
  return {
    config,
    warehouse,
    signer,
    tokens,
    auth: new Authenticator(signer, tokens),
    pool,
    accounts,
    upstream,
    async close() {
      accounts.stop()
      await tokens.close()
      await upstream.close()
    },
  }
}

/** Assembles the HTTP application from its parts; no logic of its own beyond parsing and error shapes. */
export function buildApp(
  services: Services,
  opts: { logger?: FastifyBaseLogger; onExchange?: (exchange: Exchange) => void; exporter?: { stats(): ExporterStats }; metrics?: GatewayMetrics } = {},
): FastifyInstance {
  const { config } = services
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    trustProxy: config.server.trusted_proxies.length > 0 ? config.server.trusted_proxies : false,
    bodyLimit: config.server.body_limit,
    return503OnClosing: true,
  })
  app.decorateRequest('exchange', null)

  // JSON only (a text/plain body is a 415, not a string that fails validation later), and the raw bytes are
  // kept: pass-through routes forward the body exactly as the client sent it.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    ;(req as typeof req & { rawBody?: Buffer }).rawBody = body as Buffer
    if ((body as Buffer).length === 0) return done(null, undefined)
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')))
    } catch (err) {
      done(new GatewayError(400, `malformed JSON in request body: ${(err as Error).message}`), undefined)
    }
  })

  app.setErrorHandler((error: FastifyError | GatewayError, req, reply) => {
    const gatewayError =
      error instanceof GatewayError
        ? error
        : error.statusCode === 413
          ? new GatewayError(413, `request body is larger than the ${config.server.body_limit}-byte limit`)
          : error.statusCode && error.statusCode < 500
            ? new GatewayError(error.statusCode, error.message)
            : undefined
    if (!gatewayError) req.log.error({ err: error }, 'unhandled error')
    const shown = gatewayError ?? new GatewayError(500, 'internal error')
    req.exchange?.fail(shown.status, shown.opts.type ?? anthropicErrorType(shown.status), shown.message)
    return reply
      .code(shown.status)
      .headers(shown.opts.headers ?? {})
      .send(errorBody(dialectOf(req.url, req.headers), shown))
  })

  app.setNotFoundHandler((req, reply) => {
    const err = new GatewayError(404, `no route for ${req.method} ${req.url.split('?')[0]}`)
    return reply.code(404).send(errorBody(dialectOf(req.url, req.headers), err))
  })

  const gatewayDeps: GatewayDeps = {
    config,
    auth: services.auth,
    upstream: services.upstream,
    onExchange: opts.onExchange ?? (() => {}),
  }
  serviceRoutes(app, services.warehouse)
  app.register(async (proxied) => {
    const { metrics } = opts
    // In flight from the moment a proxied request is routed until its response is over, sent or abandoned.
    if (metrics) {
      proxied.addHook('onRequest', (_req, reply, done) => {
        reply.raw.once('close', metrics.started())
        done()
      })
    }
    messagesRoutes(proxied, gatewayDeps)
    chatRoutes(proxied, gatewayDeps)
    modelRoutes(proxied, gatewayDeps)
  })
  if (opts.metrics && config.metrics.enabled) metricsRoute(app, opts.metrics, { path: config.metrics.path, bearerToken: config.metrics.bearer_token })
  const { warehouse } = services
  tokenInfoRoute(app, { store: warehouse.tokens, auth: services.auth, stats: warehouse.stats })

  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(config.admin.key))
    tokenAdminRoutes(admin, {
      store: warehouse.tokens,
      registry: services.tokens,
      signer: services.signer,
      defaultExpiryMs: config.jwt.default_expiry,
      stats: warehouse.stats,
    })
    accountAdminRoutes(admin, { registry: services.accounts, pool: services.pool })
    logAdminRoutes(admin, { requestLogs: warehouse.requestLogs })
    statsAdminRoutes(admin, { stats: warehouse.stats, tokens: warehouse.tokens })
    conversationAdminRoutes(admin, { conversations: warehouse.conversations })
    if (opts.exporter) pipelineAdminRoutes(admin, { exporter: opts.exporter })
  })
  return app
}
