import { createHmac } from 'node:crypto'

/**
 * What a record keeps of the client's own text when the token did NOT opt in to conversation logging:
 * nothing the client wrote. Error messages are rebuilt from what the gateway knows, identifiers become
 * keyed pseudonyms, the user agent is reduced to a known client and its version. (For tokens that opted in
 * the real values are kept, after redaction: see build.ts.)
 */

// ── error messages ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * The gateway's own sentences that carry no client value: kept as they are. A sentence that is not here —
 * an upstream's message, a validation message quoting a value, one reworded later — falls back to the
 * description of its error type: a miss loses detail, never leaks.
 */
const OWN_MESSAGES: RegExp[] = [
  /^missing authorization token: send Authorization: Bearer <token> or x-api-key$/,
  /^(?:invalid token|token has expired|token has been revoked|token is not known to this gateway)$/,
  /^token store unavailable, try again shortly$/,
  /^token mode "(?:api|web|both)" does not allow (?:api|web) requests$/,
  /^every upstream account is resting after recent failures; retry later$/,
  /^the gateway has no upstream account configured: its administrator must set claude\.api_keys or add one with POST \/api\/account\/apikey$/,
  /^every upstream account of the gateway is deactivated: its administrator must activate one$/,
  /^every upstream account tried was refused by Anthropic \(\d{3}\); the gateway administrator must check the account keys$/,
  /^upstream (?:unreachable|stream interrupted): (?:connect timeout|no response before the first-byte timeout|upstream went silent \(idle timeout\)|upstream closed the stream before message_stop|client disconnected|[A-Z][A-Z0-9_]{1,40})$/,
  /^upstream answered \d{3} without an error body$/,
  /^request body is larger than the \d+-byte limit$/,
  /^the request body must be a JSON object$/,
  /^n > 1 is not supported: Claude returns a single choice per request$/,
  /^messages must include at least one non-empty user or assistant message$/,
  /^image_url\.url must be an http\(s\) URL or a base64 data: URL$/,
  /^expected a base64 data URL \(data:<media type>;base64,<data>\)$/,
  /^(?:file_id is not supported; send the file inline as file_data|file\.file_data is required)$/,
  /^the client disconnected before the response was complete$/,
  // raised before the body is parsed or before routing (http/body.ts, http/socket-errors.ts), or while starting
  /^request body is nested deeper than \d+ levels$/,
  /^the request did not arrive in full within server\.body_timeout$/,
  /^the request line and headers are larger than the \d+-byte limit$/,
  /^(?:a chunk extension is larger than Node allows|the request is not valid HTTP)$/,
  /^ccproxy is starting and cannot serve yet: [a-z ]{1,80}; try again shortly$/,
  /^internal error$/,
]

/** Gateway sentences that go on with a client value: the part before it is kept. */
const OWN_PREFIXES = ['malformed JSON in request body', 'unsupported image type', 'unsupported file type']

/** Where a message names the offending field: OpenAI-style validation, ours, and Anthropic's `a.0.b: …`. */
const FIELD_PATH = [/^Invalid '([^']{1,300})': /, /^([\w.[\]]{1,300}) (?:is not valid JSON|must be a JSON object)\b/, /^([A-Za-z_][\w.[\]]{0,300}): /]

/**
 * The field names of the two request dialects (Chat Completions and Messages): a path into our schema keeps
 * them and its indices; any other segment (a key the client chose, under `metadata` say) becomes `*`.
 */
const FIELD_NAMES = new Set(
  (
    'model messages role content text type image_url url detail file file_data file_id filename tool_calls tool_call_id id ' +
    'function name arguments description parameters strict tools tool_choice parallel_tool_calls stop max_tokens ' +
    'max_completion_tokens temperature top_p top_k stream stream_options include_usage user n response_format json_schema ' +
    'schema reasoning_effort metadata user_id system source media_type data image document cache_control ttl input ' +
    'tool_use_id is_error thinking budget_tokens signature stop_sequences refusal citations title context output_config ' +
    'format service_tier seed logprobs top_logprobs frequency_penalty presence_penalty logit_bias modalities audio ' +
    'input_audio prediction store container mcp_servers'
  ).split(' '),
)

const DESCRIPTIONS: Record<string, string> = {
  invalid_request_error: 'the request was invalid',
  authentication_error: 'authentication failed',
  permission_error: 'permission denied',
  not_found_error: 'not found',
  request_too_large: 'the request was too large',
  rate_limit_error: 'rate limited',
  overloaded_error: 'overloaded',
  api_error: 'upstream or gateway error',
  timeout_error: 'timed out',
  billing_error: 'billing error',
  conflict_error: 'conflict',
  client_disconnected: 'the client disconnected before the response was complete',
}

const WITHHELD = '(the details are not kept: this token does not log conversations)'

/** A field path with every segment that is not one of our field names or an index replaced by `*`. */
export function ourFieldPath(path: string): string {
  if (!/^[\w.[\]]+$/.test(path)) return ''
  return path.replace(/[A-Za-z_]\w*/g, (name) => (FIELD_NAMES.has(name) ? name : '*'))
}

/** The error message stored for a token without conversation logging: the gateway's own words only. */
export function ownErrorMessage(errorType: string, message: string): string {
  if (message === '' || OWN_MESSAGES.some((own) => own.test(message))) return message
  const prefix = OWN_PREFIXES.find((p) => message.startsWith(`${p}:`) || message.startsWith(`${p} `))
  if (prefix) return `${prefix} ${WITHHELD}`
  const path = FIELD_PATH.map((re) => re.exec(message)?.[1]).find((p) => p !== undefined)
  const field = path ? ourFieldPath(path) : ''
  return `${DESCRIPTIONS[errorType] ?? 'the request failed'}${field ? ` at ${field}` : ''} ${WITHHELD}`
}

/** An error type is the gateway's or the upstream's vocabulary; anything else is not let into a column or label. */
export function boundedErrorType(type: string): string {
  return type === '' || /^[a-z][a-z_]{0,63}$/.test(type) ? type : 'api_error'
}

// ── identifiers ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * A keyed pseudonym of a client's identifier (X-Conversation-Id, OpenAI `user`, metadata.user_id): requests
 * of one conversation still group together, but the value cannot be read back or guessed from a list of
 * candidates without the key, and the same value under two tokens gives two pseudonyms.
 */
export function pseudonym(key: Buffer, tokenId: string, value: string): string {
  if (value === '') return ''
  return `anon-${createHmac('sha256', key).update(tokenId).update('\0').update(value).digest('hex').slice(0, 32)}`
}

/** Clients worth telling apart, by the product token they send (matched case-insensitively). */
const KNOWN_CLIENTS = [
  'claude-cli',
  'claude-code',
  'OpenAI/JS',
  'OpenAI/Python',
  'OpenAI/Go',
  'OpenAI/Java',
  'Anthropic/JS',
  'Anthropic/Python',
  'Anthropic/Go',
  'Anthropic/Java',
  'litellm',
  'langchain',
  'aider',
  'Cline',
  'Cursor',
  'curl',
  'Wget',
  'python-requests',
  'python-httpx',
  'aiohttp',
  'axios',
  'node-fetch',
  'undici',
  'node',
  'Go-http-client',
  'okhttp',
  'PostmanRuntime',
  'Mozilla',
]

const CLIENT = new RegExp(
  String.raw`(?:^|[\s(;,])(${KNOWN_CLIENTS.map((c) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(?:[/ ]v?(\d{1,6}(?:\.\d{1,6}){0,3}))?(?=$|[\s/;,)(.-])`,
  'i',
)

/** A user agent as a known client and its version (`claude-cli/1.0.83`, `OpenAI/JS 6.1.0`), `other`, or '' when none was sent. */
export function boundedUserAgent(userAgent: string): string {
  if (userAgent.trim() === '') return ''
  const match = CLIENT.exec(userAgent)
  if (!match) return 'other'
  const name = KNOWN_CLIENTS.find((c) => c.toLowerCase() === match[1]!.toLowerCase())!
  // the way the client writes it: claude-cli/1.0.83, but OpenAI/JS 6.1.0
  return match[2] ? `${name}${name.includes('/') ? ' ' : '/'}${match[2]}` : name
}
