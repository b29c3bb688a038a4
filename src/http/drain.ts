import type { Server, ServerResponse } from 'node:http'

/**
 * The responses under way on a server, so a shutdown can end each keep-alive connection as its response
 * ends. Every SDK keeps its connections open between requests, and a server's close() waits for every
 * connection to end: without this, one idle client holds the process until it is cut.
 */
export class Connections {
  readonly #server: Server
  readonly #live = new Set<ServerResponse>()
  #waiters: Array<() => void> = []
  #closing = false

  constructor(server: Server) {
    this.#server = server
    server.on('request', (_req, res: ServerResponse) => {
      this.#live.add(res)
      if (this.#closing) this.#lastOnConnection(res)
      res.once('close', () => {
        this.#live.delete(res)
        if (this.#live.size === 0) for (const wake of this.#waiters.splice(0)) wake()
      })
    })
  }

  /** From now on each connection closes as its response ends; idle ones close at once. */
  closing(): void {
    if (this.#closing) return
    this.#closing = true
    for (const res of this.#live) this.#lastOnConnection(res)
    this.#server.closeIdleConnections()
  }

  /** Cuts every connection, responses under way included (their exchanges still finish and are recorded). */
  cut(): void {
    this.#server.closeAllConnections()
  }

  /** Resolves once no response is under way (each one's 'close' listeners, which record it, have run). */
  settled(): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #lastOnConnection(res: ServerResponse): void {
    // Not begun: the client is told not to reuse the connection, and Node closes it after the response.
    if (!res.headersSent) res.setHeader('connection', 'close')
    // Begun with keep-alive: the connection is idle once the response has ended, and closed then.
    res.once('close', () => this.#server.closeIdleConnections())
  }
}
