import { chmodSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The embedded engine's own configuration: what confines every statement it runs, enforced by the engine
 * whatever the SQL says. chdb authenticates every connection as ClickHouse's `default` user, so these are
 * that user's grants, settings constraints and row policies, and the server's paths:
 * - no grant to read files, URLs, object stores or other servers (`SOURCES`), no table engines beyond the
 *   ones ccproxy creates, no BACKUP, SYSTEM (but merges), KILL, INTROSPECTION, dictGet or named collections:
 *   ccproxy's own SQL needs none of them, so no connection has them;
 * - the paths for user files, format schemas and user scripts point at an empty directory of ours;
 * - settings that name files are pinned, and the reader limits can be lowered but never raised;
 * - tables holding secrets show no rows to a read-only connection (the reader of the HTTP interface).
 */

/** ClickHouse settings every reader statement runs with; a reader may lower them, never raise them. */
export interface ReaderLimits {
  /** seconds */
  max_execution_time: number
  max_memory_usage: number
  max_rows_to_read: number
  max_bytes_to_read: number
  max_result_rows: number
  max_result_bytes: number
  max_temporary_data_on_disk_size_for_query: number
  function_sleep_max_microseconds_per_block: number
}

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  max_execution_time: 30,
  max_memory_usage: 2 * 1024 ** 3,
  max_rows_to_read: 2_000_000_000,
  max_bytes_to_read: 200 * 1024 ** 3,
  max_result_rows: 10_000_000,
  max_result_bytes: 1024 ** 3,
  max_temporary_data_on_disk_size_for_query: 1024 ** 3,
  function_sleep_max_microseconds_per_block: 1_000_000,
}

/** A table whose rows only read-write connections see (`database.table`). */
export interface HiddenTable {
  database: string
  table: string
}

export interface SandboxOptions {
  readerLimits: ReaderLimits
  hiddenTables: HiddenTable[]
}

/** Settings that make the engine read or write a file named in the setting: pinned to their defaults. */
const PINNED_SETTINGS = [
  'format_schema',
  'format_schema_source',
  'output_format_schema',
  'format_template_resultset',
  'format_template_row',
  'input_format_record_errors_file_path',
  'rename_files_after_processing',
  // the HTTP interface checks each statement with the engine's own ClickHouse-dialect parser
  'dialect',
  // a cached result could outlive the row policy that filtered it
  'use_query_cache',
]

/** The table engines ccproxy's schema and tools use; File, URL, Executable, Distributed… are not granted. */
const TABLE_ENGINES = ['MergeTree', 'ReplacingMergeTree', 'AggregatingMergeTree', 'SummingMergeTree', 'Memory', 'Null', 'View', 'MaterializedView']

const GRANTS = [
  'GRANT SHOW, SELECT, INSERT, ALTER, CREATE DATABASE, CREATE TABLE, CREATE VIEW, DROP DATABASE, DROP TABLE, DROP VIEW, TRUNCATE, OPTIMIZE, SYSTEM MERGES ON *.*',
  ...TABLE_ENGINES.map((engine) => `GRANT TABLE ENGINE ON ${engine}`),
]

// Limits where 0 would mean "unlimited": a reader may not ask for 0.
const AT_LEAST_ONE = new Set<keyof ReaderLimits>(['max_execution_time', 'max_memory_usage', 'max_rows_to_read', 'max_bytes_to_read', 'max_result_rows', 'max_result_bytes', 'max_temporary_data_on_disk_size_for_query'])

const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const identifier = (s: string) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) throw new Error(`not a plain identifier: ${s}`)
  return s
}

export function serverConfigXml(emptyDir: string): string {
  const dir = xmlText(emptyDir.endsWith('/') ? emptyDir : `${emptyDir}/`)
  return `<clickhouse>
  <!-- written by ccproxy at each start; edits are overwritten -->
  <user_files_path>${dir}</user_files_path>
  <format_schema_path>${dir}</format_schema_path>
  <user_scripts_path>${dir}</user_scripts_path>
  <user_directories>
    <users_xml><path>users.xml</path></users_xml>
  </user_directories>
</clickhouse>
`
}

export function usersXml(opts: SandboxOptions): string {
  const constraints = [
    ...PINNED_SETTINGS.map((name) => `        <${name}><const/></${name}>`),
    ...Object.entries(opts.readerLimits).map(([name, max]) => {
      const min = AT_LEAST_ONE.has(name as keyof ReaderLimits) ? 1 : 0
      return `        <${name}><min>${min}</min><max>${Math.floor(max)}</max></${name}>`
    }),
  ].join('\n')
  const byDatabase = new Map<string, string[]>()
  for (const { database, table } of opts.hiddenTables) {
    byDatabase.set(identifier(database), [...(byDatabase.get(database) ?? []), identifier(table)])
  }
  const policies = [...byDatabase]
    .map(([db, tables]) => `        <${db}>\n${tables.map((t) => `          <${t}><filter>getSetting('readonly') = 0</filter></${t}>`).join('\n')}\n        </${db}>`)
    .join('\n')
  return `<clickhouse>
  <!-- written by ccproxy at each start; edits are overwritten -->
  <profiles>
    <default>
      <constraints>
${constraints}
      </constraints>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <grants>
${GRANTS.map((g) => `        <query>${xmlText(g)}</query>`).join('\n')}
      </grants>
      <databases>
${policies}
      </databases>
    </default>
  </users>
  <quotas><default/></quotas>
</clickhouse>
`
}

/**
 * Writes the engine's configuration under `<enginePath>/ccproxy-sandbox/` (directories 0700, files 0600)
 * and returns the path of the main file, for the engine's `--config-file`.
 */
export function writeSandboxConfig(enginePath: string, opts: SandboxOptions): string {
  const dir = join(enginePath, 'ccproxy-sandbox')
  const empty = join(dir, 'empty')
  // The engine's own directory is made private when new (by default it lies in the 0700 data directory);
  // ours are kept private.
  mkdirSync(enginePath, { recursive: true, mode: 0o700 })
  for (const d of [dir, empty]) {
    mkdirSync(d, { recursive: true, mode: 0o700 })
    chmodSync(d, 0o700)
  }
  if (readdirSync(empty).length > 0) throw new Error(`${empty} must stay empty: the engine's file, schema and script paths point at it`)
  const write = (name: string, text: string) => {
    const file = join(dir, name)
    writeFileSync(`${file}.tmp`, text, { mode: 0o600 })
    renameSync(`${file}.tmp`, file)
    return file
  }
  write('users.xml', usersXml(opts))
  return write('config.xml', serverConfigXml(empty))
}
