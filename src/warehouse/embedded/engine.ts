import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { ErrorCodes, clickhouseError } from './errors.ts'
import { insertRawNative, loadChdb, queryNative, type ChdbSession, type NativeHandle } from './native.ts'
import { analyzeSql, type SqlShape } from './sql-text.ts'
import { assignments, quoteIdentifier, settingText, stringLiteral, type EngineSettings } from './settings.ts'

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
  readonly readonly: boolean
  /**
   * Runs one statement. Params are RAW escaped strings (HTTP param_* form); settings are applied for this
   * statement only; statements are serialized per connection; parameterized calls go through the
   * process-wide param chain. Like a ClickHouse session, a `USE` or `SET` statement lasts for the connection.
   */
  run(sql: string, opts?: RunOptions): Promise<RunResult>
  /** Releases the native connection once the statements already queued have finished. */
  close(): void
}

export interface OpenConnectionOptions {
  /**
   * `SET readonly = 2` (reads and SET only), and no function that reaches past the warehouse: file(),
   * url(), s3(), remote(), executable() … run with the process's file and network access in chdb.
   */
  readonly?: boolean
  /** settings for the whole life of the connection, applied before `readonly` */
  settings?: Record<string, SettingValue>
}

export interface EmbeddedEngine {
  readonly path: string
  readonly closed: boolean
  /** a native connection with its own session state (current db, settings); `readonly` applies SET readonly=2 */
  openConnection(opts?: OpenConnectionOptions): EngineConnection
  /** closes every connection (after their running statements); idempotent */
  close(): Promise<void>
}

// Server defaults the rest of ccproxy relies on, which chdb 26.7 does not have: 64-bit integers quoted in
// JSON (what @clickhouse/client's parser expects) and synchronous inserts (rows visible immediately).
const BASELINE: EngineSettings = { output_format_json_quote_64bit_integers: '1', async_insert: '0' }

// Table functions that only compute or read the warehouse's own tables; every other one reads files,
// URLs, object stores, other servers or runs programs.
const SAFE_TABLE_FUNCTIONS = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'values', 'generaterandom', 'generate_series', 'generateseries', 'view', 'merge', 'null', 'format', 'loop'])
// Scalar functions that read local files.
const FILE_FUNCTIONS = ['file', 'catboostevaluate']
// Statements a read-only connection refuses before the engine sees them: readonly=2 alone still lets
// UNDROP, KILL, BACKUP and CREATE TEMPORARY TABLE through. (Anything else, a typo included, goes to the
// engine, which still enforces readonly=2.)
const WRITE_STATEMENTS = new Set([
  'INSERT', 'CREATE', 'ALTER', 'DROP', 'UNDROP', 'KILL', 'BACKUP', 'RESTORE', 'TRUNCATE', 'RENAME', 'EXCHANGE', 'OPTIMIZE',
  'SYSTEM', 'ATTACH', 'DETACH', 'GRANT', 'REVOKE', 'DELETE', 'UPDATE', 'MOVE', 'BEGIN', 'START', 'COMMIT', 'ROLLBACK',
  'EXECUTE', 'WATCH', 'PARALLEL', 'REPLACE',
])

const cancelled = () => clickhouseError(ErrorCodes.QUERY_WAS_CANCELLED, 'Query was cancelled')

export function openEmbeddedEngine(dataDir: string): EmbeddedEngine {
  const { Session } = loadChdb()
  const path = resolve(dataDir)
  mkdirSync(path, { recursive: true })
  return new Engine(path, Session)
}

class Engine implements EmbeddedEngine {
  readonly #connections = new Set<Connection>()
  readonly #Session: new (path: string) => ChdbSession
  // Held for the engine's life: the engine stays up between short-lived connections, and opening it
  // here makes a bad data directory fail now rather than on the first query.
  readonly #anchor: Connection
  #blockedCalls: Promise<Set<string>> | undefined
  #closing: Promise<void> | undefined

  constructor(
    readonly path: string,
    Session: new (path: string) => ChdbSession,
  ) {
    this.#Session = Session
    try {
      this.#anchor = this.openConnection() as Connection
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

  /** Lower-cased names a read-only connection may not call (learned from the engine once). */
  blockedCalls(): Promise<Set<string>> {
    this.#blockedCalls ??= this.#anchor
      .run('SELECT name FROM system.table_functions', { format: 'JSONEachRow' })
      .then(({ bytes }) => {
        const names = bytes
          .toString('utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => (JSON.parse(line) as { name: string }).name.toLowerCase())
        return new Set([...names.filter((n) => !SAFE_TABLE_FUNCTIONS.has(n)), ...FILE_FUNCTIONS])
      })
    this.#blockedCalls.catch(() => (this.#blockedCalls = undefined))
    return this.#blockedCalls
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#connections].map((c) => c.closed())).then(() => undefined)
    for (const c of this.#connections) c.close()
    return this.#closing
  }
}

class Connection implements EngineConnection {
  readonly readonly: boolean
  readonly #engine: Engine
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
    this.#engine = engine
    this.#session = session
    this.#handle = session.connection!
    this.readonly = opts.readonly === true
    this.#released = new Promise<void>((resolve) => (this.#release = resolve)).then(onClosed)
    const initial: EngineSettings = { ...BASELINE }
    for (const [name, value] of Object.entries(opts.settings ?? {})) {
      if (name === 'readonly') throw clickhouseError(ErrorCodes.BAD_ARGUMENTS, "Use the readonly option, not a 'readonly' setting")
      const text = settingText(value)
      if (text !== undefined) initial[name] = text
    }
    let set = `SET ${assignments(initial)}`
    if (this.readonly) set += ', readonly = 2'
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
    await this.#check(shape)
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

  async #check(shape: SqlShape): Promise<void> {
    if (!shape.keyword) throw clickhouseError(ErrorCodes.SYNTAX_ERROR, 'Empty query')
    if (shape.secondStatementAt !== undefined) {
      throw clickhouseError(ErrorCodes.SYNTAX_ERROR, `Syntax error (Multi-statements are not allowed): failed at position ${shape.secondStatementAt + 1}`)
    }
    // In chdb these would read and write the process's own files (they are client-side on a server).
    if (shape.localFileClause) throw clickhouseError(ErrorCodes.INTO_OUTFILE_NOT_ALLOWED, 'INTO OUTFILE and FROM INFILE are not allowed')
    if (this.readonly && WRITE_STATEMENTS.has(shape.keyword)) {
      throw clickhouseError(ErrorCodes.READONLY, 'Cannot execute query in readonly mode')
    }
    if (this.readonly && shape.calls.size > 0) {
      const blocked = await this.#engine.blockedCalls()
      const hit = [...shape.calls].find((name) => blocked.has(name))
      if (hit) {
        throw clickhouseError(ErrorCodes.ACCESS_DENIED, `${hit}() reaches files, the network or programs outside the warehouse and is not allowed on a read-only connection`)
      }
    }
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
