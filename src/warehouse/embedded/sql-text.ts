/**
 * Just enough of ClickHouse's lexer to answer what the embedded engine must know before it runs a
 * statement: is it more than one statement, what FORMAT does it end with, where does an INSERT's inline
 * data start. It never rewrites SQL, and it is no security boundary: what a statement may do is decided by
 * the engine (see sandbox.ts and statement-gate.ts).
 */

interface Token {
  kind: 'word' | 'quoted' | 'string' | 'number' | 'punct'
  /** the identifier without quotes, the punctuation character, or the raw text */
  text: string
  start: number
  end: number
}

export interface SqlShape {
  /** first keyword, upper-cased; '' for an empty statement */
  keyword: string
  /** where a second statement starts (after a `;`), if there is one */
  secondStatementAt?: number
  /** the FORMAT clause: output format of a query, or the input format of an INSERT */
  format?: string
  /** INSERT … FORMAT x: offset of the inline data (may equal the text length: no inline data) */
  dataOffset?: number
  /** INTO OUTFILE or FROM INFILE: client-side clauses that would touch local files */
  localFileClause: boolean
}

const isWordStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127
const isWordChar = (c: number) => isWordStart(c) || (c >= 48 && c <= 57) || c === 36
const isDigit = (c: number) => c >= 48 && c <= 57
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11

/** Index after a quoted run starting at `i` (the opening quote); backslash escapes and doubled quotes. */
function skipQuoted(sql: string, i: number, quote: string): number {
  let j = i + 1
  while (j < sql.length) {
    const ch = sql[j]
    if (ch === '\\') j += 2
    else if (ch === quote) {
      if (sql[j + 1] === quote) j += 2
      else return j + 1
    } else j++
  }
  return sql.length
}

function unquote(raw: string): string {
  const q = raw[0]!
  let body = raw.slice(1, raw.endsWith(q) && raw.length > 1 ? -1 : undefined)
  body = body.split(q + q).join(q)
  return body.replace(/\\(.)/g, '$1')
}

/** Index after a comment starting at `i`, or -1 when there is none. */
function skipComment(sql: string, i: number): number {
  const c = sql[i]
  const n = sql[i + 1]
  if ((c === '-' && n === '-') || (c === '#' && (n === ' ' || n === '!'))) {
    const eol = sql.indexOf('\n', i)
    return eol < 0 ? sql.length : eol + 1
  }
  if (c === '/' && n === '*') {
    // ClickHouse allows nested multi-line comments
    let depth = 1
    let j = i + 2
    while (j < sql.length && depth > 0) {
      if (sql[j] === '/' && sql[j + 1] === '*') (depth++, (j += 2))
      else if (sql[j] === '*' && sql[j + 1] === '/') (depth--, (j += 2))
      else j++
    }
    return j
  }
  return -1
}

export function* tokens(sql: string, from = 0): Generator<Token> {
  let i = from
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (isSpace(c)) {
      i++
      continue
    }
    const afterComment = skipComment(sql, i)
    if (afterComment >= 0) {
      i = afterComment
      continue
    }
    const start = i
    const ch = sql[i]!
    if (ch === "'") {
      i = skipQuoted(sql, i, "'")
      yield { kind: 'string', text: sql.slice(start, i), start, end: i }
    } else if (ch === '"' || ch === '`') {
      i = skipQuoted(sql, i, ch)
      yield { kind: 'quoted', text: unquote(sql.slice(start, i)), start, end: i }
    } else if (ch === '$' && /^\$[A-Za-z0-9_]*\$/.test(sql.slice(i, i + 64))) {
      // heredoc string: $tag$ … $tag$
      const tag = /^\$[A-Za-z0-9_]*\$/.exec(sql.slice(i, i + 64))![0]
      const close = sql.indexOf(tag, i + tag.length)
      i = close < 0 ? sql.length : close + tag.length
      yield { kind: 'string', text: sql.slice(start, i), start, end: i }
    } else if (isWordStart(c)) {
      while (i < sql.length && isWordChar(sql.charCodeAt(i))) i++
      yield { kind: 'word', text: sql.slice(start, i), start, end: i }
    } else if (isDigit(c)) {
      while (i < sql.length) {
        const d = sql.charCodeAt(i)
        if (isWordChar(d) || d === 46) i++
        else if ((d === 43 || d === 45) && /[eEpP]/.test(sql[i - 1]!)) i++
        else break
      }
      yield { kind: 'number', text: sql.slice(start, i), start, end: i }
    } else {
      i++
      yield { kind: 'punct', text: ch, start, end: i }
    }
  }
}

// Words after which `FORMAT` is a column or alias, not the FORMAT clause.
const NOT_BEFORE_FORMAT_CLAUSE = new Set(['SELECT', 'DISTINCT', 'AS', 'BY', 'WHERE', 'PREWHERE', 'HAVING', 'AND', 'OR', 'NOT', 'ON', 'INTO', 'TABLE', 'USING', 'WHEN', 'THEN', 'ELSE'])

/** ClickHouse's rule: inline data starts after the first newline following the format name, or after the whitespace. */
function dataStart(sql: string, i: number): number {
  let j = i
  while (j < sql.length && isSpace(sql.charCodeAt(j))) {
    if (sql[j] === '\n') return j + 1
    j++
  }
  return j
}

export function analyzeSql(sql: string): SqlShape {
  const shape: SqlShape = { keyword: '', localFileClause: false }
  const it = tokens(sql)
  let prev: Token | undefined
  let pending: Token | undefined
  const next = (): Token | undefined => {
    if (pending) {
      const t = pending
      pending = undefined
      return t
    }
    const r = it.next()
    return r.done ? undefined : r.value
  }
  const peek = (): Token | undefined => (pending ??= next())

  for (let t = next(); t; prev = t, t = next()) {
    if (t.kind === 'punct' && t.text === ';') {
      // only more semicolons may follow
      let after = peek()
      while (after && after.kind === 'punct' && after.text === ';') {
        pending = undefined
        after = peek()
      }
      if (after) shape.secondStatementAt = after.start
      break
    }
    if (!shape.keyword && t.kind === 'word') shape.keyword = t.text.toUpperCase()
    const upper = t.kind === 'word' ? t.text.toUpperCase() : ''
    const following = peek()

    if (
      (upper === 'INTO' && following?.kind === 'word' && following.text.toUpperCase() === 'OUTFILE') ||
      (upper === 'FROM' && following?.kind === 'word' && following.text.toUpperCase() === 'INFILE')
    ) {
      shape.localFileClause = true
    }
    if (
      upper === 'FORMAT' &&
      (following?.kind === 'word' || following?.kind === 'quoted') &&
      !(prev?.kind === 'punct' && (prev.text === ',' || prev.text === '.' || prev.text === '(')) &&
      !(prev?.kind === 'word' && NOT_BEFORE_FORMAT_CLAUSE.has(prev.text.toUpperCase()))
    ) {
      shape.format = following.text
      if (shape.keyword === 'INSERT') {
        // the rest is data in that format, not SQL
        shape.dataOffset = dataStart(sql, following.end)
        break
      }
    }
  }
  return shape
}
