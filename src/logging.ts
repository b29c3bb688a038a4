import { writeSync } from 'node:fs'
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { mask } from './record/redaction.ts'
import { findSecrets } from './record/secret-rules.ts'

/**
 * The process log. A request line names the route, never the URL as sent: a query string, or the path of a
 * request that matched no route, is whatever the client typed (a key in `?api_key=`, a prompt). Error lines
 * keep the error's kind and where it happened; their message is masked like stored content, since a parse
 * error or an upstream failure can quote what was sent.
 */

/** What the request log line says about a request: the route's pattern (/api/token/:id), not its URL. */
export function requestForLog(req: {
  method?: string
  ip?: string
  socket?: { remotePort?: number }
  routeOptions?: { url?: string }
}): Record<string, unknown> {
  return {
    method: req.method,
    route: req.routeOptions?.url ?? '(no route)',
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }
}

const MAX_MESSAGE = 500

export function safeLogText(text: string): string {
  const cut = text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text
  return mask(cut, findSecrets(cut))
}

/** pino's error serializer, with the message masked and the stack reduced to its frames. */
export function errorForLog(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>
  const frames = (err.stack ?? '').split('\n').filter((line) => line.startsWith('    at '))
  return { type: out.type, code: out.code, message: safeLogText(err.message), stack: frames.join('\n') }
}

// A line that stdout does not take in this long (a pipe nobody reads) is dropped.
const STDOUT_PATIENCE_MS = 1000
const PAUSE = new Int32Array(new SharedArrayBuffer(4))

/**
 * Standard output as a log destination that never holds the process: a line goes out whole, waiting a moment
 * while a pipe is full, and is dropped when the reader has gone (EPIPE) or does not read. pino's own stdout
 * destination retries a failed write for ever when the process exits, so a gateway whose log reader had died
 * could not be stopped.
 */
export function stdoutDestination(fd = 1): DestinationStream {
  return {
    write(line: string) {
      let data = Buffer.from(line, 'utf8')
      const deadline = Date.now() + STDOUT_PATIENCE_MS
      while (data.length > 0) {
        try {
          data = data.subarray(writeSync(fd, data))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) return
          Atomics.wait(PAUSE, 0, 0, 10)
        }
      }
    },
  }
}

/** The gateway's logger; `destination` for tests (stdout otherwise). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    serializers: { req: requestForLog, err: errorForLog },
    hooks: {
      // `log.error({ err }, err.message)`: the line's own text is the error's message, masked the same way
      logMethod(args, method) {
        const [first, text] = args as unknown[]
        if (typeof first === 'object' && first !== null && 'err' in first && typeof text === 'string') args[1] = safeLogText(text)
        return method.apply(this, args)
      },
    },
  }
  return pino(options, destination ?? stdoutDestination())
}

/**
 * Fastify's request lines, one per request: no "incoming request" line, a "request completed" line that
 * carries the request too. Probes and scrapes (/health, /ready, the metrics path) log at debug only: a
 * Kubernetes probe every few seconds would otherwise be most of the log.
 */
export class RequestLog extends LogController {
  readonly #quiet: ReadonlySet<string>

  constructor(quietRoutes: readonly string[]) {
    super()
    this.#quiet = new Set(quietRoutes)
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: reply, responseTime: reply.elapsedTime }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else if (this.#quiet.has(request.routeOptions.url ?? '')) reply.log.debug(line, 'request completed')
    else reply.log.info(line, 'request completed')
  }
}
