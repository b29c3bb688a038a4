import type { Config } from '../config.ts'
import type { Exchange } from '../record/exchange.ts'
import type { Authenticator } from './auth.ts'
import type { Upstream } from './upstream.ts'

/** What the request path needs from the rest of the gateway. */
export interface GatewayDeps {
  config: Config
  auth: Authenticator
  upstream: Upstream
  /** receives every finished exchange; must not block or throw */
  onExchange: (exchange: Exchange) => void
}
