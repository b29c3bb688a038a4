import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import { RequestLog } from './logging.ts'
import type { Warehouse } from './warehouse/index.ts'
import type { Exchange } from './record/exchange.ts'
import { TokenSigner } from './tokens/jwt.ts'
import { TokenRegistry } from './tokens/registry.ts'
import { AccountPool } from './accounts/pool.ts'
import { AccountRegistry } from './accounts/registry.ts'
import { CredentialBox, assertSecrets } from './secrets.ts'
import { Authenticator } from './gateway/auth.ts'
import { Upstream } from './gateway/upstream.ts'
import { acceptJson, bodyTimeoutOptions } from './http/body.ts'
import { speaks, unroutable } from './http/errors.ts'
import { SocketErrors } from './http/socket-errors.ts'
import { proxiedRoutes, recordRefusal } from './gateway/proxied.ts'
import { serviceRoutes } from './gateway/routes/service.ts'
import { requireAdmin } from './admin/auth.ts'
import { FailedAttempts } from './admin/failed-attempts.ts'
import { SessionStore } from './admin/session-store.ts'
import { sessionRoutes } from './admin/session.ts'
import { uiRoutes } from './ui/serve.ts'
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
import type { StartupState } from './startup.ts'

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
  assertSecrets(config)
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
      betaPolicy: config.claude.beta_policy,
      betaAllowList: config.claude.beta_allow_list,
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

/** Assembles the HTTP application from its parts; no logic of its own. */
export function buildApp(
  services: Services,
  opts: {
    logger?: FastifyBaseLogger
    onExchange?: (exchange: Exchange) => void
    exporter?: { stats(): ExporterStats }
    metrics?: GatewayMetrics
    /** while not ready, only health, readiness and metrics are served */
    startup?: { readonly state: StartupState }
  } = {},
): FastifyInstance {
  const { config } = services
  const gateway = { config, auth: services.auth, upstream: services.upstream, onExchange: opts.onExchange ?? (() => {}) }
  // Errors raised before routing (by fastify, or by Node on the socket) answer in the path's dialect, and a
  // proxied route's request refused there is recorded all the same.
  const refused = recordRefusal.bind(null, gateway)
  const socketErrors = new SocketErrors(refused)
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    logController: new RequestLog(['/health', '/ready', config.metrics.path]),
    trustProxy: config.server.trusted_proxies.length > 0 ? config.server.trusted_proxies : false,
    bodyLimit: config.server.body_limit,
    ...bodyTimeoutOptions(config.server.body_timeout),
    return503OnClosing: true,
    frameworkErrors: unroutable(refused),
    clientErrorHandler: socketErrors.handle,
  })
  socketErrors.watch(app.server)
  app.decorateRequest('exchange', null)
  acceptJson(app)
  // Everything outside the proxied API (admin, token info, metrics, health, unknown paths) speaks the admin
  // shape; the proxied routes' plugins each set their own.
  speaks(app, 'admin')

  serviceRoutes(app, services.warehouse, opts.startup && { startup: opts.startup, open: [config.metrics.path], refused })
  app.register(proxiedRoutes(gateway, opts.metrics))
  if (opts.metrics && config.metrics.enabled) metricsRoute(app, opts.metrics, { path: config.metrics.path, bearerToken: config.metrics.bearer_token })
  const { warehouse } = services
  tokenInfoRoute(app, { store: warehouse.tokens, registry: services.tokens, auth: services.auth, stats: warehouse.stats })

  const attempts = new FailedAttempts({ maxFailures: config.admin.max_failures, windowMs: config.admin.failure_window })
  const sessions = new SessionStore({ ttlMs: config.ui.session_ttl })
  uiRoutes(app, { dir: config.ui.dir })
  sessionRoutes(app, { adminKey: config.admin.key, attempts, sessions, traceUrl: config.ui.trace_url })
  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(config.admin.key, attempts, sessions))
    tokenAdminRoutes(admin, {
      store: warehouse.tokens,
      registry: services.tokens,
      signer: services.signer,
      defaultExpiryMs: config.jwt.default_expiry,
      stats: warehouse.stats,
    })
    accountAdminRoutes(admin, { registry: services.accounts, pool: services.pool })
    logAdminRoutes(admin, { requestLogs: warehouse.requestLogs })
    statsAdminRoutes(admin, { stats: warehouse.stats, tokens: warehouse.tokens, accounts: services.accounts })
    conversationAdminRoutes(admin, { conversations: warehouse.conversations })
    if (opts.exporter) pipelineAdminRoutes(admin, { exporter: opts.exporter })
  })
  return app
}
