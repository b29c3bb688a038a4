import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { isIP, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { Connections } from '../../http/drain.ts'
import { secretsEqual } from '../../secrets.ts'
import type { EmbeddedEngine } from './engine.ts'
import { ErrorCodes, clickhouseError, exceptionInfo, httpStatusFor } from './errors.ts'
import { runRequest } from './request.ts'
import { Slots } from '../../slots.ts'
import { negotiateEncoding } from '../../http/encoding.ts'
import { resultHeaders, summaryOf } from './response-meta.ts'
import { querySettings } from './settings.ts'
import { analyzeSql } from './sql-text.ts'

/**
 * ClickHouse's HTTP interface over the embedded engine, for SQL tools on this machine: curl, Grafana's
 * ClickHouse data source (HTTP protocol), @clickhouse/client with `url`. Each request runs on a
 * connection of its own (see request.ts), so requests are as stateless as on a server without sessions.
 *
 * Every query needs the configured credentials, as ClickHouse checks them. What a statement may do is the
 * engine's business (sandbox.ts: no file, network or program access for anyone; statement-gate.ts: one
 * statement, read-only ones on a reader connection); this layer adds what an HTTP server must: credentials,
 * no requests a browser sends from another site, and bounded bodies.
 */

export interface HttpInterface {
  url: string
  port: number
  close(): Promise<void>
}

export interface HttpInterfaceOptions {
  /** default 127.0.0.1 */
  host?: string
  /** 0 picks a free port */
  port: number
  /** every statement runs on a reader connection (GET requests always do) */
  readonly: boolean
  /** the credentials every query must carry */
  user: string
  password: string
  /** largest request body in bytes, after decompression (default 64 MiB) */
  bodyLimit?: number
  /** statements that run at once; more wait up to queueWaitMs for a turn (default 8) */
  maxConcurrent?: number
  /** how long a statement waits for a turn before it is refused (default 10 s) */
  queueWaitMs?: number
  logger?: { warn(obj: object, msg?: string): void }
}

const KEEP_ALIVE_SECONDS = 10
const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024
// A client that takes longer than this to send its request (headers and body) is cut off.
const REQUEST_TIMEOUT_MS = 120_000
const OK = 'Ok.\n'
const DEFAULT_MAX_CONCURRENT = 8
// As ClickHouse's queue_max_wait_ms: a statement waits this long for a turn, then is refused.
const DEFAULT_QUEUE_WAIT_MS = 10_000

const gzip = promisify(zlib.gzip)
const brotli = promisify(zlib.brotliCompress)
const deflate = promisify(zlib.deflate)
const COMPRESSORS: Record<string, (b: Buffer) => Promise<Buffer>> = { gzip, br: brotli, deflate }
const ENCODINGS = ['gzip', 'br', 'deflate'] as const

export async function startHttpInterface(engine: EmbeddedEngine, opts: HttpInterfaceOptions): Promise<HttpInterface> {
  const host = opts.host ?? '127.0.0.1'
  // Also proves the engine answers before we accept connections.
  const timezone = (await runRequest(engine, { sql: 'SELECT timezone()' })).bytes.toString('utf8').trim()
  if (!opts.user || !opts.password) throw new Error('the embedded ClickHouse HTTP interface needs a user and a password')
  const ctx: Context = {
    engine,
    host,
    readonly: opts.readonly,
    user: opts.user,
    password: opts.password,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    timezone,
    logger: opts.logger,
    warnedSession: false,
    turns: new Slots(opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT),
    queueWaitMs: opts.queueWaitMs ?? DEFAULT_QUEUE_WAIT_MS,
  }

  const server = http.createServer((req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      opts.logger?.warn({ err: (err as Error)?.message ?? String(err) }, 'embedded ClickHouse HTTP interface: request failed')
      if (!res.headersSent) sendError(res, err)
      else res.destroy()
    })
  })
  // Say it in the Keep-Alive header and mean it: @clickhouse/client compares its idle-socket TTL with it.
  const connections = new Connections(server)
  server.keepAliveTimeout = KEEP_ALIVE_SECONDS * 1000
  server.requestTimeout = REQUEST_TIMEOUT_MS

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    url: `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`,
    port,
    close() {
      // A client that keeps its connection busy (a ccproxy polling it as its server, Grafana) would hold
      // close() for ever: each connection closes as its response ends.
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        connections.closing()
      })
      return closing
    },
  }
}

interface Context {
  engine: EmbeddedEngine
  host: string
  readonly: boolean
  user: string
  password: string
  bodyLimit: number
  timezone: string
  logger: HttpInterfaceOptions['logger']
  warnedSession: boolean
  /** Grafana panels and SQL clients take turns: a burst of heavy statements cannot take every core */
  turns: Slots
  queueWaitMs: number
}

async function handle(ctx: Context, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  // Web pages are kept out: by the Host check (DNS rebinding: a site's name resolving to 127.0.0.1) and by
  // refusing what a browser sends on another site's behalf (Origin, Sec-Fetch-Site).
  if (!hostAllowed(req.headers.host, ctx.host)) {
    return sendError(res, clickhouseError(ErrorCodes.ACCESS_DENIED, `Host ${String(req.headers.host).slice(0, 100)} is not allowed`))
  }
  const foreign = crossSite(req)
  if (foreign) return sendError(res, clickhouseError(ErrorCodes.ACCESS_DENIED, foreign))
  const url = new URL(req.url ?? '/', 'http://localhost')
  const method = req.method ?? 'GET'
  const reads = method === 'GET' || method === 'HEAD'

  if (url.pathname === '/ping' || (url.pathname === '/' && reads && !url.searchParams.has('query'))) {
    if (!reads && method !== 'POST') return sendText(res, 405, 'Method not allowed\n', { allow: 'GET, HEAD' })
    return sendText(res, 200, OK, {}, method === 'HEAD')
  }
  if (url.pathname !== '/') {
    return sendText(res, 404, `There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`)
  }
  if (!reads && method !== 'POST') return sendText(res, 405, 'Method not allowed\n', { allow: 'GET, HEAD, POST' })

  const q = url.searchParams
  const query_id = q.get('query_id') || randomUUID()
  try {
    authenticate(ctx, req, q)
    if (q.get('compress') === '1' || q.get('decompress') === '1') {
      throw clickhouseError(ErrorCodes.NOT_IMPLEMENTED, "ClickHouse's native block compression (compress/decompress=1) is not supported by the embedded engine; use HTTP compression (enable_http_compression=1 with Accept-Encoding: gzip)")
    }
    if (/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
      throw clickhouseError(ErrorCodes.NOT_IMPLEMENTED, 'multipart/form-data bodies (query parameters or external tables) are not supported by the embedded engine; send parameters as param_<name> URL parameters (use_multipart_params: false)')
    }
    if (q.has('session_id') && !ctx.warnedSession) {
      ctx.warnedSession = true
      ctx.logger?.warn({}, 'embedded ClickHouse HTTP interface: session_id is ignored; every request runs in a session of its own')
    }
    const body = method === 'POST' ? await readBody(req, ctx.bodyLimit) : Buffer.alloc(0)

    const params: Record<string, string> = {}
    const settingParams: Record<string, string> = {}
    for (const [name, value] of q) {
      if (name.startsWith('param_')) params[name.slice('param_'.length)] = value
      else settingParams[name] = value
    }
    const { settings, defaultFormat } = querySettings(settingParams)
    const format = defaultFormat ?? header(req, 'x-clickhouse-format')
    const database = q.get('database') ?? header(req, 'x-clickhouse-database')
    const { sql, data } = statementOf(q.get('query') ?? '', body)
    // A client that hangs up before its turn comes is not served (a running statement cannot be stopped).
    const gone = new AbortController()
    res.once('close', () => gone.abort())

    await takeTurn(ctx, gone.signal)
    const result = await runRequest(ctx.engine, {
      sql,
      ...(data ? { data } : {}),
      params,
      settings,
      ...(database ? { database } : {}),
      ...(format ? { format } : {}),
      // as on a server, GET never writes
      role: ctx.readonly || reads ? 'reader' : 'writer',
      signal: gone.signal,
    }).finally(() => ctx.turns.release())

    let payload = result.bytes
    const headers: Record<string, string> = { ...resultHeaders(result, query_id, ctx.timezone), 'keep-alive': `timeout=${KEEP_ALIVE_SECONDS}` }
    const encoding = q.get('enable_http_compression') === '1' ? negotiateEncoding(req.headers['accept-encoding'], ENCODINGS) : undefined
    if (encoding && payload.length > 0) {
      payload = await COMPRESSORS[encoding]!(payload)
      headers['content-encoding'] = encoding
    }
    headers['content-length'] = String(payload.length)
    res.writeHead(200, headers)
    res.end(method === 'HEAD' ? undefined : payload)
  } catch (err) {
    sendError(res, err, query_id)
  }
}

/** A turn among the statements that run at once, or TOO_MANY_SIMULTANEOUS_QUERIES after queueWaitMs. */
async function takeTurn({ turns, queueWaitMs }: Context, gone: AbortSignal): Promise<void> {
  const waited = AbortSignal.timeout(queueWaitMs)
  try {
    await turns.acquire(AbortSignal.any([gone, waited]))
  } catch (err) {
    if (!waited.aborted) throw err
    throw clickhouseError(
      ErrorCodes.TOO_MANY_SIMULTANEOUS_QUERIES,
      `Too many simultaneous queries: ${turns.size} are running and this one waited ${queueWaitMs / 1000} s for a turn (clickhouse.embedded.http_max_concurrent)`,
    )
  }
}

/**
 * The statement and the data after it. ClickHouse reads the `query` parameter, a newline, then the body;
 * for an INSERT … FORMAT the body stays bytes (binary formats) and the engine joins them.
 */
function statementOf(query: string, body: Buffer): { sql: string; data?: Buffer } {
  if (query) return body.length > 0 ? { sql: query, data: body } : { sql: query }
  const text = body.toString('utf8')
  const shape = analyzeSql(text)
  if (shape.keyword === 'INSERT' && shape.dataOffset !== undefined && shape.dataOffset < text.length) {
    const prefix = text.slice(0, shape.dataOffset)
    return { sql: prefix, data: body.subarray(Buffer.byteLength(prefix, 'utf8')) }
  }
  if (!text.trim()) throw clickhouseError(ErrorCodes.SYNTAX_ERROR, 'Empty query')
  return { sql: text }
}

/** ClickHouse's ways to send credentials: Basic auth, X-ClickHouse-User/-Key, or user/password parameters. */
function credentials(req: http.IncomingMessage, q: URLSearchParams): { user: string; password: string } | undefined {
  const basic = /^Basic\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')
  if (basic) {
    const text = Buffer.from(basic[1]!, 'base64').toString('utf8')
    const colon = text.indexOf(':')
    return colon < 0 ? { user: text, password: '' } : { user: text.slice(0, colon), password: text.slice(colon + 1) }
  }
  const user = header(req, 'x-clickhouse-user') ?? q.get('user') ?? undefined
  const password = header(req, 'x-clickhouse-key') ?? q.get('password') ?? undefined
  return user === undefined && password === undefined ? undefined : { user: user ?? 'default', password: password ?? '' }
}

function authenticate(ctx: Context, req: http.IncomingMessage, q: URLSearchParams): void {
  const given = credentials(req, q)
  if (!given) throw clickhouseError(ErrorCodes.REQUIRED_PASSWORD, 'default: Authentication failed: password is required (send the user and password of clickhouse.embedded.http_user / http_password)')
  // Both compared, in constant time, whatever the first one says.
  const userOk = secretsEqual(given.user, ctx.user)
  const passwordOk = secretsEqual(given.password, ctx.password)
  if (!userOk || !passwordOk) {
    throw clickhouseError(ErrorCodes.AUTHENTICATION_FAILED, `${given.user.slice(0, 64)}: Authentication failed: password is incorrect, or there is no user with such name`)
  }
}

/** Why a browser request made on another site's behalf is refused, or undefined. */
function crossSite(req: http.IncomingMessage): string | undefined {
  const site = header(req, 'sec-fetch-site')
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Requests from another site are not allowed (Sec-Fetch-Site: ${site.slice(0, 20)})`
  const origin = header(req, 'origin')
  if (origin === undefined) return undefined
  let host: string
  try {
    host = new URL(origin).host
  } catch {
    host = ''
  }
  return host !== '' && host === req.headers.host ? undefined : `Requests from another site are not allowed (Origin: ${origin.slice(0, 100)})`
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => clickhouseError(ErrorCodes.QUERY_IS_TOO_LARGE, `The request body is larger than ${limit} bytes`)
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume()
    throw tooLarge()
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim()
  const decoders: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
    gzip: zlib.createGunzip,
    'x-gzip': zlib.createGunzip,
    deflate: zlib.createInflate,
    br: zlib.createBrotliDecompress,
  }
  if (encoding !== 'identity' && encoding !== 'none' && !decoders[encoding]) {
    req.resume()
    throw clickhouseError(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `Content-Encoding ${encoding.slice(0, 40)} is not supported (gzip, deflate and br are)`)
  }
  const decoder = decoders[encoding]?.()
  const source: AsyncIterable<Buffer> = decoder ? req.pipe(decoder) : req
  // Counted as it arrives, decompressed: a small compressed body cannot unfold into gigabytes here.
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of source) {
      size += chunk.length
      if (size > limit) {
        decoder?.destroy()
        req.resume()
        throw tooLarge()
      }
      chunks.push(chunk)
    }
  } catch (err) {
    if (size > limit) throw err
    throw clickhouseError(ErrorCodes.BAD_ARGUMENTS, `Cannot read the request body (${encoding}): ${(err as Error).message}`)
  }
  return Buffer.concat(chunks)
}

function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (!hostHeader) return true
  const name = (hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : hostHeader.split(':')[0]!).toLowerCase()
  return name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0 || name === boundHost.toLowerCase()
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function sendText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}, headOnly = false): void {
  if (res.headersSent) return void res.destroy()
  res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': String(Buffer.byteLength(text)), 'keep-alive': `timeout=${KEEP_ALIVE_SECONDS}`, ...headers })
  res.end(headOnly ? undefined : text)
}

/** ClickHouse's error response: status by exception code, the code in a header, the text as the body. */
function sendError(res: http.ServerResponse, err: unknown, queryId?: string): void {
  const info = exceptionInfo(err)
  const status = httpStatusFor(info.code)
  sendText(res, status, info.message + '\n', {
    ...(status === 401 ? { 'www-authenticate': 'Basic realm="ClickHouse", charset="UTF-8"' } : {}),
    'x-clickhouse-exception-code': String(info.code),
    ...(queryId ? { 'x-clickhouse-query-id': queryId } : {}),
    'x-clickhouse-summary': JSON.stringify(summaryOf(undefined)),
  })
}
