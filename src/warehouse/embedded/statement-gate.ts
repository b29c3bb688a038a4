import { formatQueryParams } from '@clickhouse/client/dist/common/index.js'
import { ErrorCodes, clickhouseError } from './errors.ts'
import { queryNative, type NativeHandle } from './native.ts'
import { stringLiteral } from './settings.ts'
import { tokens } from './sql-text.ts'

/**
 * What a client of the HTTP interface may run, decided on the engine's own parse of the statement. chdb
 * runs the client side of ClickHouse in this process, so three things a server's HTTP interface refuses
 * would reach the engine: several statements in one text, `INTO OUTFILE` / `FROM INFILE` (files written and
 * read by this process), and — on a read-only connection — `SET x = DEFAULT` / `SETTINGS x = DEFAULT`, which
 * ClickHouse 26.7 applies without checking `readonly` or settings constraints (it resets `readonly` to 0).
 * And one function: `file(path)` reads any file in chdb without a grant to check (see below).
 *
 * The statement is normalised by ClickHouse's parser (`formatQuery`: one statement or a syntax error, no
 * comments, quotes and keywords in one spelling), the canonical text is checked, and the canonical text is
 * what runs — so what was checked is what the engine executes, however the client spelled it.
 */

/** writer: any single statement; reader: a single read statement (SELECT, SHOW, DESCRIBE, EXISTS, EXPLAIN) */
export type Gate = 'writer' | 'reader'

const READ_STATEMENTS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN'])

// Scalar functions that read local files with no grant to check in chdb (ClickHouse trusts a local
// user with them); table functions and engines are the sandbox's grants' business. The canonical text
// names a function exactly as it resolves: no quotes, no aliases (checked on engine 26.7).
const FILE_READING_FUNCTIONS = new Set(['file', 'catboostevaluate'])

/** The canonical text of `sql` if it may run through `gate`; throws ClickHouse's error otherwise. */
export async function admit(handle: NativeHandle, sql: string, gate: Gate): Promise<string> {
  // Bound with SET (a session value of this connection), not as a native parameter: reader statements
  // never wait in the process-wide parameter queue (see native.ts).
  // The value in the escaped text form of a parameter (as HTTP's param_*), then as a string literal.
  const escaped = formatQueryParams({ value: sql })
  await queryNative(handle, `SET param_ccproxy_statement = ${stringLiteral(escaped)}`, 'TabSeparated')
  let canonical: string
  try {
    canonical = (await queryNative(handle, 'SELECT formatQuery({ccproxy_statement:String})', 'RawBLOB')).bytes.toString('utf8')
  } catch (err) {
    // The parser's own message, without our wrapping call ("In scope SELECT formatQuery(…)").
    throw new Error((err as Error).message.replace(/: In scope SELECT formatQuery\(.*?\)\. \(/s, '. ('), { cause: err })
  }
  const refused = refusal(canonical, gate)
  if (refused) throw refused
  return canonical
}

/** Why a canonical statement may not run through `gate`, or undefined. Exported for table tests. */
export function refusal(canonical: string, gate: Gate): Error | undefined {
  const words = [...tokens(canonical)]
  const first = words[0]
  if (gate === 'reader' && !(first?.kind === 'word' && READ_STATEMENTS.has(first.text.toUpperCase()))) {
    return clickhouseError(ErrorCodes.READONLY, 'Cannot execute query in readonly mode: this connection runs SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN only')
  }
  for (let i = 0; i + 1 < words.length; i++) {
    const [a, b] = [words[i]!, words[i + 1]!]
    const pair = a.kind === 'word' && b.kind === 'word' ? `${a.text} ${b.text}`.toUpperCase() : ''
    if (pair === 'INTO OUTFILE' || pair === 'FROM INFILE') {
      return clickhouseError(ErrorCodes.INTO_OUTFILE_NOT_ALLOWED, `${pair} is not allowed over the HTTP interface`)
    }
    if ((a.kind === 'word' || a.kind === 'quoted') && FILE_READING_FUNCTIONS.has(a.text.toLowerCase()) && b.kind === 'punct' && b.text === '(') {
      return clickhouseError(ErrorCodes.ACCESS_DENIED, `${a.text}() reads local files and is not allowed over the HTTP interface`)
    }
    if (gate === 'reader' && a.kind === 'punct' && a.text === '=' && b.kind === 'word' && b.text.toUpperCase() === 'DEFAULT') {
      return clickhouseError(ErrorCodes.READONLY, 'Cannot reset a setting to DEFAULT in readonly mode')
    }
  }
  return undefined
}
