import { resolve } from 'node:path'
import { ErrorCodes, clickhouseError } from './errors.ts'
import { insertRawNative, loadChdb, queryNative, type ChdbSession, type NativeHandle } from './native.ts'
import { DEFAULT_READER_LIMITS, writeSandboxConfig, type HiddenTable, type ReaderLimits } from './sandbox.ts'
import { analyzeSql, type SqlShape } from './sql-text.ts'
import { admit, type Gate } from './statement-gate.ts'
import { assertSettingName, assignments, quoteIdentifier, settingText, stringLiteral, type EngineSettings } from './settings.ts'

/**
 * The embedded ClickHouse engine (chdb) for one data directory. chdb runs one engine per process; each
 * native connection on it has its own session state (current database, SET settings).
 */

export type SettingValue = string | number | boolean

export interface RunOptions {
  /** output format when the statement has no FORMAT clause (default TabSeparated, as ClickHouse) */
  format?: string
  /** RAW parameter values in ClickHouse's escaped text form: what HTTP sends as `param_<name>` */
  params?: Record<string, string>
  /** applied for this statement only, then restored */
  settings?: Record<string, SettingValue>
  /** USE this database first (it must exist) */
  database?: string
  signal?: AbortSignal
  /** data for an INSERT … FORMAT (or text appended to the statement after a newline, as ClickHouse's HTTP handler does) */
  data?: Buffer
}

export interface RunResult {
  bytes: Buffer
  rowsRead: number
  bytesRead: number
  elapsedNs: bigint | number
  /** INSERT only, including rows written by materialized views (like X-ClickHouse-Summary) */
  rowsWritten: number
  bytesWritten: number
  /** the output format of `bytes` */
  format: string
}

export interface EngineConnection {
  readonly role: ConnectionRole
  /**
   * Runs one statement. Params are RAW escaped strings (HTTP param_* form); settings are applied for this
   * statement only; statements are serialized per connection; parameterized calls go through the
   * process-wide param chain. Like a ClickHouse session, a `USE` or `SET` statement lasts for the connection.
   */
  run(sql: string, opts?: RunOptions): Promise<RunResult>
  /** Releases the native connection once the statements already queued have finished. */
  close(): void
}

/**
 * Who runs statements on a connection. `owner`: ccproxy's own code. `writer` and `reader`: a client of the
 * HTTP interface; each statement is admitted on the engine's own parse first (statement-gate.ts). A reader
 * connection is also `readonly = 2` with the reader limits, before any statement of the client runs.
 */
export type ConnectionRole = 'owner' | Gate

export interface OpenConnectionOptions {
  role?: ConnectionRole
  /** settings for the whole life of the connection, applied before `readonly` */
  settings?: Record<string, SettingValue>
}

export interface EmbeddedEngine {
  readonly path: string
  readonly closed: boolean
  /** a native connection with its own session state (current db, settings) */
  openConnection(opts?: OpenConnectionOptions): EngineConnection
  /** closes every connection (after their running statements); idempotent */
  close(): Promise<void>
}

export interface EngineOptions {
  /** what every reader statement runs with (see sandbox.ts) */
  readerLimits?: ReaderLimits
  /** tables whose rows read-only connections do not see */
  hiddenTables?: HiddenTable[]
}

// Server defaults the rest of ccproxy relies on, which chdb 26.7 does not have: 64-bit integers quoted in
// JSON (what @clickhouse/client's parser expects) and synchronous inserts (rows visible immediately).
const BASELINE: EngineSettings = { output_format_json_quote_64bit_integers: '1', async_insert: '0' }

const cancelled = () => clickhouseError(ErrorCodes.QUERY_WAS_CANCELLED, 'Query was cancelled')

export function openEmbeddedEngine(dataDir: string, opts: EngineOptions = {}): EmbeddedEngine {
  const { Session } = loadChdb()
  const path = resolve(dataDir)
  const readerLimits = opts.readerLimits ?? DEFAULT_READER_LIMITS
  const configFile = writeSandboxConfig(path, { readerLimits, hiddenTables: opts.hiddenTables ?? [] })
  return new Engine(path, Session, configFile, readerLimits)
}

type SessionClass = new (path: string, opts?: { connectionArgs?: string[] }) => ChdbSession

class Engine implements EmbeddedEngine {
  readonly #connections = new Set<Connection>()
  readonly #Session: SessionClass
  readonly readerLimits: ReaderLimits
  // Held for the engine's life: the engine stays up between short-lived connections, and opening it
  // here makes a bad data directory fail now rather than on the first query. The first session of the
  // process starts the engine, with the sandbox configuration.
  readonly #anchor: ChdbSession
  #closing: Promise<void> | undefined

  constructor(
    readonly path: string,
    Session: SessionClass,
    configFile: string,
    readerLimits: ReaderLimits,
  ) {
    this.#Session = Session
    this.readerLimits = readerLimits
    try {
      this.#anchor = new Session(path, { connectionArgs: [`--config-file=${configFile}`] })
    } catch (err) {
      throw new Error(`Cannot open the embedded ClickHouse engine at ${path}: ${(err as Error)?.message ?? err}`, { cause: err })
    }
  }

  get closed(): boolean {
    return this.#closing !== undefined
  }

  openConnection(opts: OpenConnectionOptions = {}): EngineConnection {
    if (this.#closing) throw clickhouseError(ErrorCodes.ABORTED, 'The embedded engine is closed')
    const session = new this.#Session(this.path)
    let conn: Connection
    try {
      conn = new Connection(this, session, opts, () => this.#connections.delete(conn))
    } catch (err) {
      session.close() // nothing ran on it yet
      throw err
    }
    this.#connections.add(conn)
    return conn
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#connections].map((c) => c.closed())).then(() => this.#anchor.close())
    for (const c of this.#connections) c.close()
    return this.#closing
  }
}

class Connection implements EngineConnection {
  readonly role: ConnectionRole
  #session: ChdbSession | undefined
  readonly #handle: NativeHandle
  #tail: Promise<unknown> = Promise.resolve()
  readonly #ready: Promise<unknown>
  /** the session's current database; undefined once a USE statement made it unknown */
  #database: string | undefined = 'default'
  #failure: Error | undefined
  readonly #released: Promise<void>
  #release!: () => void

  constructor(engine: Engine, session: ChdbSession, opts: OpenConnectionOptions, onClosed: () => void) {
    this.#session = session
    this.#handle = session.connection!
    this.role = opts.role ?? 'owner'
    this.#released = new Promise<void>((resolve) => (this.#release = resolve)).then(onClosed)
    const initial: EngineSettings = { ...BASELINE }
    for (const [name, value] of Object.entries({ ...opts.settings, ...(this.role === 'reader' ? engine.readerLimits : {}) })) {
      if (name === 'readonly') throw clickhouseError(ErrorCodes.BAD_ARGUMENTS, "Use the reader role, not a 'readonly' setting")
      const text = settingText(value)
      if (text !== undefined) initial[name] = text
    }
    let set = `SET ${assignments(initial)}`
    // Last, and before any statement of the client: the engine refuses to lower it afterwards.
    if (this.role === 'reader') set += ', readonly = 2'
    // If this fails (an unknown setting, say), every statement fails with it: never run unconfigured.
    this.#ready = this.#enqueue(() => queryNative(this.#handle, set, 'TabSeparated'))
    this.#ready.catch(() => undefined)
  }

  run(sql: string, opts: RunOptions = {}): Promise<RunResult> {
    if (this.#failure) return Promise.reject(this.#failure)
    if (!this.#session) return Promise.reject(clickhouseError(ErrorCodes.ABORTED, 'The embedded connection is closed'))
    const { signal } = opts
    if (signal?.aborted) return Promise.reject(cancelled())
    const task = this.#enqueue(async () => {
      await this.#ready
      if (signal?.aborted) throw cancelled()
      return this.#execute(sql, opts)
    })
    if (!signal) return task
    // A native statement cannot be interrupted: the caller stops waiting, the connection does not.
    task.catch(() => undefined)
    return new Promise<RunResult>((resolve, reject) => {
      const onAbort = () => reject(cancelled())
      signal.addEventListener('abort', onAbort, { once: true })
      task.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  close(): void {
    if (!this.#session) return
    const session = this.#session
    this.#session = undefined
    // Releasing a native connection while a statement still runs on it aborts the whole engine.
    void this.#tail.then(() => {
      try {
        session.close()
      } finally {
        this.#release()
      }
    })
  }

  /** resolves once the native connection is released */
  closed(): Promise<void> {
    return this.#released
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task)
    this.#tail = run.catch(() => undefined)
    return run
  }

  async #execute(sql: string, opts: RunOptions): Promise<RunResult> {
    const params = opts.params && Object.keys(opts.params).length > 0 ? opts.params : undefined
    let shape = analyzeSql(sql)
    let data = opts.data && opts.data.length > 0 ? opts.data : undefined
    if (data && !(shape.keyword === 'INSERT' && shape.dataOffset !== undefined && !params)) {
      // As ClickHouse's HTTP handler does: the statement is the query, a newline, then the body.
      sql = `${sql}\n${data.toString('utf8')}`
      data = undefined
      shape = analyzeSql(sql)
    }
    if (this.role === 'owner' || shape.keyword === 'INSERT') this.#check(shape)
    if (this.role !== 'owner') {
      // The engine's parse decides what a client of the HTTP interface may run; a query runs as the
      // engine printed it (an INSERT keeps its text: its inline data is not part of the parse).
      const statement = shape.keyword === 'INSERT' && shape.dataOffset !== undefined ? sql.slice(0, shape.dataOffset) : sql
      const canonical = await admit(this.#handle, statement, this.role)
      if (shape.keyword !== 'INSERT') {
        sql = canonical
        shape = analyzeSql(sql)
      }
    }
    if (opts.database !== undefined && opts.database !== this.#database) {
      await queryNative(this.#handle, `USE ${quoteIdentifier(opts.database)}`, 'TabSeparated')
      this.#database = opts.database
    }
    const restore = opts.settings && Object.keys(opts.settings).length > 0 ? await this.#applySettings(opts.settings) : undefined
    try {
      return await this.#statement(sql, shape, data, params, opts.format ?? 'TabSeparated')
    } finally {
      if (shape.keyword === 'USE') this.#database = undefined
      if (restore) {
        await queryNative(this.#handle, restore, 'TabSeparated').catch((err: Error) => {
          // Settings that cannot be put back would leak into every later statement: retire the connection.
          this.#failure = clickhouseError(ErrorCodes.ABORTED, `The embedded connection could not restore its settings: ${err.message}`)
          this.close()
        })
      }
    }
  }

  /** A server's HTTP behaviour, cheaply: for ccproxy's own statements, and for INSERTs, whose data no parse sees. */
  #check(shape: SqlShape): void {
    if (!shape.keyword) throw clickhouseError(ErrorCodes.SYNTAX_ERROR, 'Empty query')
    if (shape.secondStatementAt !== undefined) {
      throw clickhouseError(ErrorCodes.SYNTAX_ERROR, `Syntax error (Multi-statements are not allowed): failed at position ${shape.secondStatementAt + 1}`)
    }
    // In chdb these would read and write the process's own files (they are client-side on a server).
    if (shape.localFileClause) throw clickhouseError(ErrorCodes.INTO_OUTFILE_NOT_ALLOWED, 'INTO OUTFILE and FROM INFILE are not allowed')
  }

  /** SETs the statement's settings; returns the SET that puts back what was there before. */
  async #applySettings(settings: Record<string, SettingValue>): Promise<string | undefined> {
    const text: EngineSettings = {}
    for (const [name, value] of Object.entries(settings)) {
      if (name === 'readonly') {
        throw clickhouseError(ErrorCodes.BAD_ARGUMENTS, "'readonly' cannot change for one statement (it cannot be undone); open a readonly connection")
      }
      const t = settingText(value)
      if (t !== undefined) text[name] = t
    }
    if (Object.keys(text).length === 0) return undefined
    const set = `SET ${assignments(text)}` // validates the names before they reach any SQL
    const names = Object.keys(text)
    const { bytes } = await queryNative(
      this.#handle,
      `SELECT name, value, changed FROM system.settings WHERE name IN (${names.map(stringLiteral).join(', ')})`,
      'JSONEachRow',
    )
    const before = new Map<string, { value: string; changed: number }>()
    for (const line of bytes.toString('utf8').split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as { name: string; value: string; changed: number }
      before.set(row.name, row)
    }
    const restore =
      'SET ' +
      names
        .map((name) => {
          const prior = before.get(name)
          return prior && Number(prior.changed) ? `${name} = ${stringLiteral(prior.value)}` : `${name} = DEFAULT`
        })
        .join(', ')
    try {
      await queryNative(this.#handle, set, 'TabSeparated')
    } catch (err) {
      await queryNative(this.#handle, restore, 'TabSeparated').catch(() => undefined)
      throw err
    }
    return restore
  }

  async #statement(
    sql: string,
    shape: SqlShape,
    data: Buffer | undefined,
    params: Record<string, string> | undefined,
    requested: string,
  ): Promise<RunResult> {
    if (shape.keyword === 'INSERT' && !params) {
      // The raw insert entry point (prefix + "\n" + data) reports rows written; the query one does not.
      let prefix = sql
      let payload = data ?? Buffer.alloc(0)
      if (shape.dataOffset !== undefined) {
        prefix = sql.slice(0, shape.dataOffset).trimEnd()
        const inline = sql.slice(shape.dataOffset)
        if (inline) payload = payload.length > 0 ? Buffer.concat([Buffer.from(inline + '\n'), payload]) : Buffer.from(inline)
        // A server inserts nothing for an empty body; chdb would fail with NO_DATA_TO_INSERT.
        if (payload.length === 0) return emptyResult(requested)
      }
      const r = await insertRawNative(this.#handle, prefix, payload)
      return { ...emptyResult(requested), elapsedNs: Math.round(r.elapsed * 1e9), rowsWritten: r.rowsWritten, bytesWritten: r.bytesWritten }
    }
    if (params && this.role === 'reader') {
      // Bound as session values of this connection, as SET param_x does in clickhouse-client: a client's
      // statement never holds the process-wide parameter queue that ccproxy's own lookups wait in.
      for (const [name, value] of Object.entries(params)) {
        assertSettingName(name)
        await queryNative(this.#handle, `SET param_${name} = ${stringLiteral(value)}`, 'TabSeparated')
      }
      params = undefined
    }
    const r = await queryNative(this.#handle, sql, requested, params)
    return {
      bytes: r.bytes,
      rowsRead: r.rowsRead,
      bytesRead: r.bytesRead,
      elapsedNs: Math.round(r.elapsed * 1e9),
      rowsWritten: 0,
      bytesWritten: 0,
      format: shape.keyword === 'INSERT' ? requested : (shape.format ?? requested),
    }
  }
}

function emptyResult(format: string): RunResult {
  return { bytes: Buffer.alloc(0), rowsRead: 0, bytesRead: 0, elapsedNs: 0, rowsWritten: 0, bytesWritten: 0, format }
}
