import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { createClient, parseError, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
// @clickhouse/client bundles its own copy of the common code (client-common is deprecated): take the
// param formatter from there so TupleParam & co. from '@clickhouse/client' are recognized, and errors
// from parseError are the same ClickHouseError class the HTTP path throws.
import {
  type ConnBaseQueryParams,
  type ConnCommandParams,
  type ConnCommandResult,
  type ConnExecParams,
  type ConnExecResult,
  type ConnInsertParams,
  type ConnInsertResult,
  type ConnPingParams,
  type ConnPingResult,
  type ConnQueryResult,
  type Connection,
} from '@clickhouse/client/dist/common/connection.js'
import { formatQueryParams } from '@clickhouse/client/dist/common/index.js'
import type { EmbeddedEngine, RunResult } from './engine.ts'
import { exceptionInfo, httpStatusFor } from './errors.ts'
import { runRequest } from './request.ts'
import { resultHeaders, summaryOf } from './response-meta.ts'
import { querySettings, quoteIdentifier } from './settings.ts'
import { Slots } from '../../slots.ts'

/**
 * @clickhouse/client's Connection over the embedded engine, in-process: `createClient({ connection })`
 * then behaves as it does against a server's HTTP interface — same parameter encoding, same settings,
 * same errors (ClickHouseError with code and type), same summary and headers.
 */
export class EmbeddedConnection implements Connection<Readable> {
  readonly #engine: EmbeddedEngine
  readonly #database: string
  #databaseExists: boolean
  readonly #inflight = new Set<Promise<unknown>>()
  /** at most this many statements of this client run at once (a server client's max_open_connections) */
  readonly #slots: Slots | undefined

  constructor(engine: EmbeddedEngine, opts: { database?: string; maxConcurrent?: number } = {}) {
    this.#engine = engine
    this.#database = opts.database || 'default'
    this.#databaseExists = this.#database === 'default'
    this.#slots = opts.maxConcurrent ? new Slots(opts.maxConcurrent) : undefined
  }

  async ping(params: ConnPingParams): Promise<ConnPingResult> {
    try {
      await this.#execute(params, 'SELECT 1')
      return { success: true }
    } catch (error) {
      return { success: false, error: error as Error }
    }
  }

  async query(params: ConnBaseQueryParams): Promise<ConnQueryResult<Readable>> {
    const { result, query_id } = await this.#execute(params, params.query)
    return { stream: bytesStream(result.bytes), query_id, response_headers: resultHeaders(result, query_id), http_status_code: 200 }
  }

  async insert(params: ConnInsertParams<Readable>): Promise<ConnInsertResult> {
    const data = await collect(params.values)
    const { result, query_id } = await this.#execute(params, params.query, data)
    return { query_id, summary: summaryOf(result), response_headers: resultHeaders(result, query_id), http_status_code: 200 }
  }

  async command(params: ConnCommandParams): Promise<ConnCommandResult> {
    const { stream, ...rest } = await this.#withErrorResponse(params, async () => undefined)
    stream.destroy()
    return rest
  }

  async exec(params: ConnExecParams<Readable>): Promise<ConnExecResult<Readable>> {
    return this.#withErrorResponse(params, async () => (params.values ? collect(params.values) : undefined))
  }

  /** Waits for this client's statements; the engine stays open (it is shared, and closed by its owner). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inflight])
  }

  async #execute(params: Omit<ConnBaseQueryParams, 'query'>, sql: string, data?: Buffer): Promise<{ result: RunResult; query_id: string }> {
    try {
      return await this.#executeRaw(params, sql, data)
    } catch (err) {
      throw clientError(err, params.abort_signal)
    }
  }

  async #executeRaw(params: Omit<ConnBaseQueryParams, 'query'>, sql: string, data?: Buffer): Promise<{ result: RunResult; query_id: string }> {
    const query_id = params.query_id || randomUUID()
    const signal = params.abort_signal
    const run = async () => {
      const { settings, defaultFormat } = querySettings(params.clickhouse_settings)
      const database = await this.#currentDatabase()
      return runRequest(this.#engine, {
        sql,
        ...(data ? { data } : {}),
        ...('query_params' in params && params.query_params ? { params: rawParams(params.query_params) } : {}),
        settings,
        ...(database ? { database } : {}),
        ...(defaultFormat ? { format: defaultFormat } : {}),
        ...(signal ? { signal } : {}),
      })
    }
    const work = this.#slots ? this.#slots.run(run, signal) : run()
    this.#inflight.add(work)
    try {
      return { result: await work, query_id }
    } finally {
      this.#inflight.delete(work)
    }
  }

  /** command()/exec() with ignore_error_response resolve with the error text, as over HTTP. */
  async #withErrorResponse(
    params: ConnCommandParams | ConnExecParams<Readable>,
    getData: () => Promise<Buffer | undefined>,
  ): Promise<ConnExecResult<Readable>> {
    try {
      const { result, query_id } = await this.#executeRaw(params, params.query, await getData())
      return {
        stream: bytesStream(result.bytes),
        query_id,
        summary: summaryOf(result),
        response_headers: resultHeaders(result, query_id),
        http_status_code: 200,
      }
    } catch (err) {
      if (!params.ignore_error_response || params.abort_signal?.aborted) throw clientError(err, params.abort_signal)
      const info = exceptionInfo(err)
      const query_id = params.query_id || randomUUID()
      return {
        stream: bytesStream(Buffer.from(info.message + '\n')),
        query_id,
        summary: summaryOf(undefined),
        response_headers: { 'x-clickhouse-exception-code': String(info.code), 'x-clickhouse-query-id': query_id },
        http_status_code: httpStatusFor(info.code),
      }
    }
  }

  /** The configured database once it exists; until then (before migrations create it) the default one. */
  async #currentDatabase(): Promise<string | undefined> {
    if (this.#databaseExists) return this.#database
    const { bytes } = await runRequest(this.#engine, { sql: `EXISTS DATABASE ${quoteIdentifier(this.#database)}` })
    this.#databaseExists = bytes.toString('utf8').trim() === '1'
    return this.#databaseExists ? this.#database : undefined
  }
}

export function createEmbeddedClient(
  engine: EmbeddedEngine,
  opts: { database: string; clickhouse_settings?: ClickHouseSettings; max_open_connections?: number },
): ClickHouseClient {
  return createClient({
    connection: new EmbeddedConnection(engine, { database: opts.database, ...(opts.max_open_connections ? { maxConcurrent: opts.max_open_connections } : {}) }),
    database: opts.database,
    ...(opts.clickhouse_settings ? { clickhouse_settings: opts.clickhouse_settings } : {}),
  })
}

/** What the HTTP client throws for the same failure: an abort, or parseError of the exception text. */
function clientError(err: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return new Error('The user aborted a request.', { cause: err })
  return parseError(err instanceof Error ? err : new Error(String(err)))
}

/** JS values to the RAW `param_*` text, exactly as @clickhouse/client's toSearchParams does for HTTP. */
function rawParams(values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(values)) out[name] = formatQueryParams({ value })
  return out
}

// The engine hands over a result whole; the client parses what it gets in one go. In slices, with a turn of
// the event loop between them, a large result (an export's chunk) never holds up the requests being proxied.
const SLICE_BYTES = 64 * 1024

function bytesStream(bytes: Buffer): Readable {
  return Readable.from(slices(bytes), { objectMode: false })
}

async function* slices(bytes: Buffer): AsyncGenerator<Buffer, void, undefined> {
  for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve))
    yield bytes.subarray(at, at + SLICE_BYTES)
  }
}

async function collect(values: string | Readable): Promise<Buffer> {
  if (typeof values === 'string') return Buffer.from(values, 'utf8')
  const chunks: Buffer[] = []
  for await (const chunk of values as AsyncIterable<unknown>) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array))
  }
  return Buffer.concat(chunks)
}
