/**
 * ClickHouse cluster mode (clickhouse.cluster): the schema stays the plain DDL a DBA reads in clickhouse/*.sql,
 * and is rewritten here, statement by statement, to run on every node of a self-managed cluster:
 *   - DDL gets `ON CLUSTER '<cluster>'` (CREATE, DROP and RENAME run only on the node that receives them;
 *     ON CLUSTER sends them through Keeper's distributed DDL queue to every node);
 *   - every MergeTree-family engine becomes its Replicated twin, without a Keeper path or replica name, so
 *     the server's `default_replica_path` and `default_replica_name` apply (by default
 *     `/clickhouse/tables/{uuid}/{shard}` and `{replica}`, what ClickHouse recommends; `{uuid}` is the same
 *     on every node because the table is created ON CLUSTER in an Atomic database);
 *   - INSERT … SELECT (data migrations) runs once, as it is: a Replicated table copies the rows to the others.
 * Without a cluster the DDL runs as written (one server, or ClickHouse Cloud, which replicates by itself).
 */

/** A cluster as the server's remote_servers names it, or a macro the server expands, such as {cluster}. */
export const CLUSTER_NAME = /^(?:[A-Za-z_][A-Za-z0-9_.-]{0,254}|\{[A-Za-z_][A-Za-z0-9_]{0,62}\})$/
export const CLUSTER_NAME_RULE = 'expected a ClickHouse cluster name (letters, digits, _ . -, starting with a letter or _) or a macro such as {cluster}'

const MERGE_TREE_FAMILY = new Set(['', 'Replacing', 'Summing', 'Aggregating', 'Collapsing', 'VersionedCollapsing', 'Coalescing', 'Graphite'])

// a table, view or database: plain, `quoted`, "quoted", or a bound {name:Identifier}, with an optional database
const PART = '(?:`[^`]+`|"[^"]+"|\\{\\w+:Identifier\\}|[A-Za-z_][A-Za-z0-9_]*)'
const NAME = `${PART}(?:\\.${PART})?`

/** The statement up to the name its ON CLUSTER clause follows; `create` says whether engines are rewritten. */
const DDL: Array<{ head: RegExp; create: boolean }> = [
  { head: new RegExp(`^\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:TABLE|MATERIALIZED\\s+VIEW|VIEW|DICTIONARY|DATABASE)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${NAME}`, 'i'), create: true },
  { head: new RegExp(`^\\s*ALTER\\s+TABLE\\s+${NAME}`, 'i'), create: false },
  { head: new RegExp(`^\\s*DROP\\s+(?:TABLE|VIEW|DICTIONARY|DATABASE)\\s+(?:IF\\s+EXISTS\\s+)?${NAME}`, 'i'), create: false },
  { head: new RegExp(`^\\s*TRUNCATE\\s+TABLE\\s+(?:IF\\s+EXISTS\\s+)?${NAME}`, 'i'), create: false },
]
const DATA = /^\s*(?:INSERT|SELECT|WITH)\b/i
const ENGINE = /\b(ENGINE\s*=\s*)(\w*)MergeTree\b/gi

/** Whether `name` may be clickhouse.cluster (the empty string is "no cluster"). */
export function isClusterName(name: string): boolean {
  return name === '' || CLUSTER_NAME.test(name)
}

/**
 * One statement as it runs on `cluster` ('' = as written). Throws on a statement it cannot place on a
 * cluster (so a new kind of migration statement fails its table test, not a production cluster).
 */
export function onCluster(statement: string, cluster: string): string {
  if (cluster === '') return statement
  if (!CLUSTER_NAME.test(cluster)) throw new Error(`clickhouse.cluster = ${JSON.stringify(cluster)}: ${CLUSTER_NAME_RULE}`)
  if (DATA.test(statement)) return statement
  const ddl = DDL.find((d) => d.head.test(statement))
  if (!ddl) throw new Error(`cannot run on a ClickHouse cluster (neither DDL it can send ON CLUSTER nor INSERT … SELECT): ${firstLine(statement)}`)
  const head = ddl.head.exec(statement)![0]
  const rest = statement.slice(head.length)
  if (/^\s*ON\s+CLUSTER\b/i.test(rest)) throw new Error(`names its own cluster; migrations are written without one: ${firstLine(statement)}`)
  const body = ddl.create ? rest.replace(ENGINE, (whole, engine: string, family: string) => (MERGE_TREE_FAMILY.has(family) ? `${engine}Replicated${family}MergeTree` : whole)) : rest
  return `${head} ON CLUSTER '${cluster}'${body}`
}

const firstLine = (statement: string) => statement.trim().split('\n')[0]!
