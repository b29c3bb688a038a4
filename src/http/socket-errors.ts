import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { GatewayError, anthropicErrorType, dialectOfPath, errorBody, type Refusal } from './errors.ts'

/** Requests Node cut mid-way and that were answered on their socket, with what they were told. */
const answered = new WeakMap<ServerResponse, GatewayError>()

/** What a request cut on its socket (server.body_timeout, a body that is not HTTP) was answered, for its record. */
export function answeredOnSocket(res: ServerResponse): GatewayError | undefined {
  return answered.get(res)
}

/**
 * What Node's HTTP parser refuses on the socket before fastify sees a request (a header section over
 * Node's limit, a request that does not arrive within server.body_timeout, bytes that are not HTTP) —
 * answered as Node would (same statuses, then the connection closed), but with a body in the dialect of
 * the request's path. Replaces fastify's default `clientErrorHandler`, which answers in fastify's own shape.
 */
export class SocketErrors {
  /** the latest request on each connection, so an error that ends one mid-body knows its path */
  readonly #latest = new WeakMap<Socket, ServerResponse>()

  constructor(private readonly refused: (refusal: Refusal) => void) {}

  /** Follows the requests on `server`; call once, before it listens. */
  watch(server: Server): void {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#latest.set(req.socket as Socket, res))
  }

  /** Fastify's `clientErrorHandler` (Node's `clientError` event). */
  readonly handle = (err: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    // The client ended its side mid-request: it left, nobody is there to read an answer (a routed request is
    // recorded as a 499 by its route).
    if (err.code === 'HPE_INVALID_EOF_STATE') return void socket.destroy()
    const res = this.#latest.get(socket)
    const inFlight = res && !res.writableFinished ? res : undefined
    // An answer already under way cannot have another written into it.
    if (inFlight?.headersSent || !socket.writable) return void socket.destroy()
    const request = inFlight ? routed(inFlight.req) : requestLine(err.rawPacket)
    const status = statusOf(err.code)
    const error = new GatewayError(status, MESSAGES[status] ?? 'the request is not valid HTTP')
    const body = JSON.stringify(errorBody(request ? dialectOfPath(request.path, request.anthropicVersion) : 'admin', error))
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    socket.destroySoon()
    if (inFlight) answered.set(inFlight, error)
    // A request already routed is recorded by its route; one refused before routing is reported here.
    if (!inFlight && request) {
      this.refused({ ...request, status, type: anthropicErrorType(status), message: error.message, clientIp: socket.remoteAddress ?? '', userAgent: '' })
    }
  }
}

const MESSAGES: Record<number, string> = {
  408: 'the request did not arrive in full within server.body_timeout',
  413: 'a chunk extension is larger than Node allows',
  431: `the request line and headers are larger than the ${maxHeaderSize}-byte limit`,
}

/** Node's own statuses for its parser's errors (lib/_http_server.js). */
function statusOf(code: string | undefined): number {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408
  if (code === 'HPE_HEADER_OVERFLOW') return 431
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413
  return 400
}

/** The method and path of a request Node had parsed the head of. */
function routed(req: IncomingMessage): { method: string; path: string; anthropicVersion: boolean } {
  return { method: req.method ?? '', path: req.url ?? '', anthropicVersion: req.headers['anthropic-version'] !== undefined }
}

/** The method and path of the bytes Node could not parse, when they begin with a request line. */
function requestLine(raw: unknown): { method: string; path: string; anthropicVersion: boolean } | undefined {
  const head = Buffer.isBuffer(raw) ? raw.subarray(0, 64 * 1024).toString('latin1') : ''
  const line = /^([A-Z]+) (\/\S*) HTTP\/1\.[01]\r\n/.exec(head)
  if (!line) return undefined
  return { method: line[1]!, path: line[2]!, anthropicVersion: /\r\nanthropic-version[ \t]*:/i.test(head) }
}
