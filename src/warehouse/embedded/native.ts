import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/**
 * The one place that touches chdb's native addon. Every native query in the process goes through
 * `queryNative`/`insertRawNative` so that parameterized calls can share ONE chain (see `paramChain`).
 */

/** Opaque native connection handle (chdb's `Session.connection`). */
export type NativeHandle = object

export interface NativeQueryResult {
  bytes: Buffer
  /** seconds */
  elapsed: number
  rowsRead: number
  bytesRead: number
}

export interface NativeInsertResult {
  /** seconds */
  elapsed: number
  rowsWritten: number
  bytesWritten: number
}

interface NativeAddon {
  QueryAsyncConnection(conn: NativeHandle, sql: string, format: string, params?: Record<string, string>): Promise<NativeQueryResult>
  InsertRawAsyncConnection(conn: NativeHandle, prefix: string, data: Buffer, countLines: boolean): Promise<NativeInsertResult>
}

export interface ChdbSession {
  readonly connection: NativeHandle | null
  close(): void
}

interface Chdb {
  Session: new (path: string) => ChdbSession
  native: NativeAddon
}

let loaded: Chdb | undefined

/** Loads chdb (an optionalDependency) once; the error says what to do when it is missing. */
export function loadChdb(): Chdb {
  if (loaded) return loaded
  try {
    const require = createRequire(import.meta.url)
    const { Session } = require('chdb') as { Session: Chdb['Session'] }
    // chdb's exports map hides dist/, so resolve the loader next to the package entry point.
    const loader = require(join(dirname(require.resolve('chdb')), 'dist/loader.js')) as { loadNative(): NativeAddon }
    loaded = { Session, native: loader.loadNative() }
    return loaded
  } catch (err) {
    throw new Error(
      `The embedded ClickHouse engine is not available: the optional dependency "chdb" could not be loaded ` +
        `(${(err as Error)?.message ?? err}). Set clickhouse.url to use a ClickHouse server, ` +
        `or reinstall ccproxy with optional dependencies (npm install --include=optional).`,
      { cause: err },
    )
  }
}

/**
 * chdb binds query parameters per call with state that is NOT isolated between native connections:
 * two parameterized queries running at once on different connections clobber each other's values and
 * can abort the engine (see the comment above `globalParamChain` in chdb's index.js). So every
 * parameterized native call in this process waits its turn here. Plain queries never wait.
 * The chain advances on native completion, even when the caller has stopped waiting.
 */
// Kept on globalThis so that even a second copy of this module (bundlers, test runners) shares it.
const CHAIN = Symbol.for('ccproxy.embedded.paramChain')
const chainHolder = globalThis as unknown as { [CHAIN]?: Promise<unknown> }

export function queryNative(
  conn: NativeHandle,
  sql: string,
  format: string,
  params?: Record<string, string>,
): Promise<NativeQueryResult> {
  const { native } = loadChdb()
  if (!params || Object.keys(params).length === 0) return native.QueryAsyncConnection(conn, sql, format)
  const run = (chainHolder[CHAIN] ?? Promise.resolve()).then(() => native.QueryAsyncConnection(conn, sql, format, params))
  chainHolder[CHAIN] = run.catch(() => undefined)
  return run
}

/** `prefix` + "\n" + `data` as one INSERT; reports the rows written (no parameters possible). */
export function insertRawNative(conn: NativeHandle, prefix: string, data: Buffer): Promise<NativeInsertResult> {
  return loadChdb().native.InsertRawAsyncConnection(conn, prefix, data, false)
}
