import type { ClickHouseClient } from '@clickhouse/client'
import { Conditions, TIME_TYPE, isoTime, streamRows } from './request-logs.ts'
import { toClickHouseTime } from './time.ts'

/**
 * Reads (and deletions) of conversation_contents for the admin API. Every value is a bound parameter.
 * The table is ORDER BY (token_id, created_at): a token's conversations are one contiguous range.
 */

export interface ConversationFilter {
  token_id?: string
  model?: string
  /** only conversations whose prompt or completion contains this (searchCondition) */
  q?: string
  /** created_at at or after (inclusive) */
  from?: Date
  /** created_at strictly before (exclusive) */
  before?: Date
}

/** A list or search item: everything but the big texts, which are cut to a preview. */
export interface ConversationSummary {
  id: string
  request_log_id: string
  token_id: string
  model: string
  conversation_id: string
  created_at: string
  /** the first PREVIEW_CHARS characters of the prompt, with … when there is more */
  prompt_preview: string
  completion_preview: string
}

/** A stored conversation, every column. */
export interface Conversation {
  id: string
  request_log_id: string
  token_id: string
  conversation_id: string
  system_prompt: string
  messages_json: string
  prompt: string
  completion: string
  tool_calls: string
  tool_results: string
  created_at: string
  model: string
}

/** One conversation with the numbers of its request (null when that log row cannot be found). */
export interface ConversationDetail extends Conversation {
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
  duration_ms: number | null
}

export const PREVIEW_CHARS = 200
export const SEARCH_MAX_CHARS = 200

const FULL_COLUMNS = [
  'id', 'request_log_id', 'token_id', 'conversation_id', 'system_prompt', 'messages_json', 'prompt',
  'completion', 'tool_calls', 'tool_results', 'created_at', 'model',
] as const

// substringUTF8 counts code points; the ellipsis marks a cut preview.
const preview = (column: 'prompt' | 'completion') =>
  `if(lengthUTF8(${column}) > ${PREVIEW_CHARS}, concat(substringUTF8(${column}, 1, ${PREVIEW_CHARS}), '…'), ${column}) AS ${column}_preview`

const SUMMARY_SELECT = `SELECT id, request_log_id, token_id, model, conversation_id, created_at, ${preview('prompt')}, ${preview('completion')}
                        FROM conversation_contents`

type Stored = Record<string, unknown>
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v))

const toSummary = (r: Stored): ConversationSummary => ({
  id: str(r.id),
  request_log_id: str(r.request_log_id),
  token_id: str(r.token_id),
  model: str(r.model),
  conversation_id: str(r.conversation_id),
  created_at: isoTime(r.created_at),
  prompt_preview: str(r.prompt_preview),
  completion_preview: str(r.completion_preview),
})

const toConversation = (r: Stored): Conversation => ({
  id: str(r.id),
  request_log_id: str(r.request_log_id),
  token_id: str(r.token_id),
  conversation_id: str(r.conversation_id),
  system_prompt: str(r.system_prompt),
  messages_json: str(r.messages_json),
  prompt: str(r.prompt),
  completion: str(r.completion),
  tool_calls: str(r.tool_calls),
  tool_results: str(r.tool_results),
  created_at: isoTime(r.created_at),
  model: str(r.model),
})

function conditions(f: ConversationFilter): Conditions {
  const c = new Conditions()
  if (f.token_id !== undefined) c.add('token_id', '=', 'String', f.token_id)
  if (f.from !== undefined) c.add('created_at', '>=', TIME_TYPE, toClickHouseTime(f.from))
  if (f.before !== undefined) c.add('created_at', '<', TIME_TYPE, toClickHouseTime(f.before))
  if (f.model !== undefined) c.add('model', '=', 'String', f.model)
  if (f.q !== undefined) {
    const match = searchCondition(f.q)
    c.raw(match.sql, match.params)
  }
  return c
}

/** LIKE's metacharacters (% _ \) escaped, so the pattern matches the text literally. */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (m) => `\\${m}`)

// What ClickHouse's lower() does: ASCII letters only (the skip indexes are on lower(prompt)/lower(completion)).
const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (m) => m.toLowerCase())

// A word hasToken() accepts as a needle: ASCII letters and digits only (other ASCII characters are separators).
const TOKEN_WORD = /^[A-Za-z0-9]+$/

// Characters lower() leaves alone although they have case (É, Ж, Σ …): lower(prompt) keeps them as written, so
// a LIKE on lower(prompt) cannot match them case-insensitively; these parts of a query are left to the final check.
const CASED_NON_ASCII = /(?:(?![\u0000-\u007f])[\p{Lu}\p{Ll}\p{Lt}])+/u

/**
 * The search condition for `q`, in two layers:
 *
 * 1. Necessary conditions the skip indexes can answer (they prune granules before anything is read):
 *    - a word of ASCII letters and digits: `hasToken(lower(prompt), w) OR hasToken(lower(completion), w)`,
 *      served by the `text` indexes (0003) or the tokenbf_v1 indexes (0002) on lower(prompt)/lower(completion);
 *    - anything else — words with other characters (`50%_off`, `gpt-4`, `c:\path`), and text without spaces
 *      (Chinese, Japanese, Korean, Thai), where no word boundary exists — a literal substring:
 *      `lower(prompt) LIKE '%…%'` with % _ \ escaped, served by the ngrambf_v1 indexes.
 *    OR across the two columns keeps its pruning through `use_skip_indexes_for_disjunctions` (ClickHouse 25.x+;
 *    older servers still answer correctly, by reading more).
 * 2. The confirmation, case-insensitive over all of Unicode: the whole query occurs in the prompt or the
 *    completion, `positionCaseInsensitiveUTF8(…) > 0`.
 *
 * So a plain word matches as a whole word (searching `cat` does not return `concatenate`), and anything
 * else matches as a substring.
 */
export function searchCondition(q: string): { sql: string; params: Record<string, unknown> } {
  const parts: string[] = []
  const params: Record<string, unknown> = { q }
  const words = q.split(/\s+/).filter(Boolean)
  const seen = new Set<string>()
  for (const word of words) {
    if (TOKEN_WORD.test(word)) {
      const w = word.toLowerCase()
      if (seen.has(`w:${w}`)) continue
      seen.add(`w:${w}`)
      const name = `w${parts.length}`
      params[name] = w
      parts.push(`(hasToken(lower(prompt), {${name}:String}) OR hasToken(lower(completion), {${name}:String}))`)
      continue
    }
    // The runs of the word that lower() handles exactly (ASCII and uncased characters such as CJK).
    for (const run of word.split(CASED_NON_ASCII)) {
      if (!run) continue
      const pattern = `%${escapeLike(asciiLower(run))}%`
      if (seen.has(`p:${pattern}`)) continue
      seen.add(`p:${pattern}`)
      const name = `w${parts.length}`
      params[name] = pattern
      parts.push(`(lower(prompt) LIKE {${name}:String} OR lower(completion) LIKE {${name}:String})`)
    }
  }
  parts.push('(positionCaseInsensitiveUTF8(prompt, {q:String}) > 0 OR positionCaseInsensitiveUTF8(completion, {q:String}) > 0)')
  return { sql: parts.join(' AND '), params }
}

export class ConversationStore {
  constructor(private readonly client: ClickHouseClient) {}

  /** One page (0-based), newest first, and the number of matching conversations. */
  async list(filter: ConversationFilter, page: number, limit: number): Promise<{ conversations: ConversationSummary[]; total: number }> {
    const where = conditions(filter)
    const [rows, count] = await Promise.all([
      this.client
        .query({
          query: `${SUMMARY_SELECT} ${where.sql()} ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32} OFFSET {offset:UInt64}`,
          query_params: { ...where.params, limit, offset: page * limit },
          format: 'JSONEachRow',
        })
        .then((rs) => rs.json<Stored>()),
      this.client
        .query({ query: `SELECT count() AS total FROM conversation_contents ${where.sql()}`, query_params: where.params, format: 'JSONEachRow' })
        .then((rs) => rs.json<{ total: string }>()),
    ])
    return { conversations: rows.map(toSummary), total: Number(count[0]?.total ?? 0) }
  }

  /**
   * One conversation with its request's model, tokens and duration. The log row is found through the
   * primary key's prefix (token_id) and the bloom filter on id, so it reads a granule or two, not the table.
   */
  async get(id: string): Promise<ConversationDetail | undefined> {
    const rs = await this.client.query({
      query: `SELECT ${FULL_COLUMNS.join(', ')} FROM conversation_contents WHERE id = {id:UUID} LIMIT 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<Stored>()
    if (!row) return undefined
    const conversation = toConversation(row)
    const log = await this.client.query({
      query: `SELECT model, prompt_tokens, completion_tokens, total_tokens, duration_ms FROM request_logs
              WHERE token_id = {token_id:String} AND id = {log_id:UUID} LIMIT 1`,
      query_params: { token_id: conversation.token_id, log_id: conversation.request_log_id },
      format: 'JSONEachRow',
    })
    const [numbers] = await log.json<{ model: string; prompt_tokens: number; completion_tokens: number; total_tokens: number; duration_ms: number }>()
    return {
      ...conversation,
      model: numbers?.model || conversation.model,
      prompt_tokens: numbers ? Number(numbers.prompt_tokens) : null,
      completion_tokens: numbers ? Number(numbers.completion_tokens) : null,
      total_tokens: numbers ? Number(numbers.total_tokens) : null,
      duration_ms: numbers ? Number(numbers.duration_ms) : null,
    }
  }

  /** Conversations whose prompt or completion contains `q` (see searchCondition), newest first. */
  async search(q: string, tokenId: string | undefined, limit: number): Promise<ConversationSummary[]> {
    const where = conditions(tokenId === undefined ? {} : { token_id: tokenId })
    const match = searchCondition(q)
    where.raw(match.sql, match.params)
    const rs = await this.client.query({
      query: `${SUMMARY_SELECT} ${where.sql()} ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}`,
      query_params: { ...where.params, limit },
      format: 'JSONEachRow',
    })
    return (await rs.json<Stored>()).map(toSummary)
  }

  /**
   * Deletes one conversation (a lightweight DELETE: gone for reads at once, purged on merge), and clears
   * has_content on its request log so no reader (the API, Grafana) is told there is content to open. The
   * log's update is a mutation on the one part holding it, waited for: a delete is a rare admin action.
   */
  async delete(id: string): Promise<boolean> {
    const rs = await this.client.query({
      query: 'SELECT token_id, request_log_id FROM conversation_contents WHERE id = {id:UUID} LIMIT 1',
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [found] = await rs.json<{ token_id: string; request_log_id: string }>()
    if (!found) return false
    await this.client.command({ query: 'DELETE FROM conversation_contents WHERE id = {id:UUID}', query_params: { id } })
    await this.client.command({
      query: 'ALTER TABLE request_logs UPDATE has_content = false WHERE token_id = {token_id:String} AND id = {log_id:UUID}',
      query_params: { token_id: found.token_id, log_id: found.request_log_id },
      clickhouse_settings: { mutations_sync: '1' },
    })
    return true
  }

  /**
   * Every matching conversation, newest first, every column (no row cap): keyset-paged chunks, each
   * streamed, so no single query holds more than a chunk of these large rows.
   */
  async *exportRows(filter: ConversationFilter, opts: { chunkRows?: number } = {}): AsyncGenerator<Conversation, void, undefined> {
    const chunkRows = opts.chunkRows ?? EXPORT_CHUNK_ROWS
    let last: Stored | undefined
    for (;;) {
      const where = conditions(filter)
      if (last) {
        where.raw(`created_at <= {after_at:${TIME_TYPE}} AND (created_at, id) < ({after_at:${TIME_TYPE}}, {after_id:UUID})`, {
          after_at: last.created_at,
          after_id: last.id,
        })
      }
      const query = `SELECT ${FULL_COLUMNS.join(', ')} FROM conversation_contents ${where.sql()}
                     ORDER BY created_at DESC, id DESC LIMIT {chunk_rows:UInt32}`
      let n = 0
      for await (const row of streamRows<Stored>(this.client, query, { ...where.params, chunk_rows: chunkRows })) {
        n++
        last = row
        yield toConversation(row)
      }
      if (n < chunkRows) return
    }
  }
}

export const EXPORT_CHUNK_ROWS = 2_000
