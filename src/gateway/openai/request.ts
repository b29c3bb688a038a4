// OpenAI Chat Completions request → Anthropic Messages request (reference/wire-formats.md §5, §7.3).
import { z } from 'zod'
import type {
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessageParam,
  AnthropicRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
  ImageMediaType,
} from './types.ts'

/** A client mistake in an OpenAI request; the route answers 400 with `param` in the OpenAI error body. */
export class TranslationError extends Error {
  override name = 'TranslationError'
  readonly param: string | null

  constructor(message: string, param: string | null = null) {
    super(message)
    this.param = param
  }
}

// ── Schema ──────────────────────────────────────────────────────────────────────────────────────────────────
// Objects are loose: fields this gateway does not translate pass validation and are ignored.

const cacheControl = z.looseObject({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() })

const textPart = z.looseObject({ type: z.literal('text'), text: z.string(), cache_control: cacheControl.optional() })

const imageUrlPart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
})

const filePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({
    file_data: z.string().optional(),
    file_id: z.string().optional(),
    filename: z.string().optional(),
  }),
})

/** A variant the gateway knows but cannot translate: rejected with the reason, and absent from the parsed type. */
function unsupported<T extends z.ZodType>(variant: T, message: string) {
  return variant.refine(() => false, { message }).pipe(z.never())
}

/** Custom message only for an unknown discriminator value; other issues keep zod's own message. */
function unknownVariant(message: string) {
  return { error: (issue: { code: string }) => (issue.code === 'invalid_union' ? message : undefined) }
}

const userPart = z.discriminatedUnion(
  'type',
  [
    textPart,
    imageUrlPart,
    filePart,
    unsupported(
      z.looseObject({ type: z.literal('input_audio') }),
      'audio input is not supported by Claude; send text, image_url or file parts',
    ),
  ],
  unknownVariant('unknown content part type; expected text, image_url or file'),
)

const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() })
const assistantPart = z.discriminatedUnion(
  'type',
  [textPart, refusalPart],
  unknownVariant('unknown content part type; expected text or refusal'),
)

const textContent = z.union([z.string(), z.array(textPart)], {
  error: 'expected a string or an array of text parts',
})

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
})

const chatMessage = z.discriminatedUnion(
  'role',
  [
    z.looseObject({ role: z.literal('system'), content: textContent }),
    z.looseObject({ role: z.literal('developer'), content: textContent }),
    z.looseObject({
      role: z.literal('user'),
      content: z.union([z.string(), z.array(userPart)], { error: 'expected a string or an array of content parts' }),
    }),
    z.looseObject({
      role: z.literal('assistant'),
      content: z
        .union([z.string(), z.array(assistantPart)], { error: 'expected a string, an array of content parts or null' })
        .nullish(),
      tool_calls: z.array(toolCall).nullish(),
    }),
    z.looseObject({ role: z.literal('tool'), tool_call_id: z.string().min(1), content: textContent }),
    unsupported(
      z.looseObject({ role: z.literal('function') }),
      'the deprecated "function" role is not supported; send tool results as "tool" messages',
    ),
  ],
  unknownVariant('unknown role; expected system, developer, user, assistant or tool'),
)

const tool = z.looseObject({
  type: z.literal('function', { error: 'only "function" tools are supported' }),
  function: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 characters of a-z, A-Z, 0-9, _ or -'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
})

const toolChoice = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) }),
  ],
  { error: 'expected "none", "auto", "required" or {"type": "function", "function": {"name": …}}' },
)

const responseFormat = z.discriminatedUnion(
  'type',
  [
    z.looseObject({ type: z.literal('text') }),
    z.looseObject({ type: z.literal('json_object') }),
    z.looseObject({
      type: z.literal('json_schema'),
      json_schema: z.looseObject({
        name: z.string().min(1),
        description: z.string().optional(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullish(),
      }),
    }),
  ],
  unknownVariant('unknown response_format type; expected text, json_object or json_schema'),
)

const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const
const positiveInt = z.number().int().positive()

export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(chatMessage).min(1),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)], { error: 'expected a string or an array of up to 4 strings' })
    .nullish(),
  max_tokens: positiveInt.nullish(),
  max_completion_tokens: positiveInt.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  n: z.number().int().min(1).nullish(),
  response_format: responseFormat.nullish(),
  reasoning_effort: z.enum(REASONING_EFFORTS).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
})

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>
type ChatMessage = ChatCompletionRequest['messages'][number]
type ReasoningEffort = (typeof REASONING_EFFORTS)[number]

/** Validates an OpenAI request body; throws TranslationError naming the first offending field. */
export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  const result = chatCompletionRequestSchema.safeParse(body)
  if (result.success) return result.data
  const [first] = result.error.issues
  if (!first) throw new TranslationError('Invalid request body')
  const { path, message } = explain(first, [])
  const param = path.length > 0 ? formatParam(path) : null
  throw new TranslationError(param ? `Invalid '${param}': ${message}` : message, param)
}

/**
 * For a union, zod reports "no branch matched"; the useful issue is the one from the branch that got deepest
 * into the value (an array of parts whose third part lacks `text`). When every branch failed at the value
 * itself, the union's own message says what was expected.
 */
function explain(issue: z.core.$ZodIssue, prefix: PropertyKey[]): { path: PropertyKey[]; message: string } {
  const path = [...prefix, ...issue.path]
  if (issue.code === 'invalid_union') {
    let deepest: z.core.$ZodIssue | undefined
    for (const [first] of issue.errors) {
      if (first && first.path.length > (deepest?.path.length ?? 0)) deepest = first
    }
    if (deepest) return explain(deepest, path)
  }
  return { path, message: issue.message }
}

/** ['messages', 0, 'content'] → 'messages[0].content' */
function formatParam(path: PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join('')
}

// ── Model limits ────────────────────────────────────────────────────────────────────────────────────────────

export interface SamplingLimits {
  /** Only temperature 1 and top_p ≥ 0.99 are accepted (top_k never): models released after Claude Opus 4.6. */
  restricted: boolean
  /** Whether temperature and top_p may be sent in the same request. */
  temperatureWithTopP: boolean
}

// Model ids known to accept free sampling values (wire-formats §0). Anything not listed is treated as restricted,
// which only drops sampling hints, so an unknown or future model never fails over them.
const FREE_SAMPLING: ReadonlyArray<{ pattern: RegExp; temperatureWithTopP: boolean }> = [
  // Claude 3, 3.5, 3.7: claude-3-opus-20240229, claude-3-5-sonnet-latest, claude-3-7-sonnet-20250219
  { pattern: /^claude-3-/, temperatureWithTopP: true },
  // Claude 4.0: claude-sonnet-4-20250514, claude-opus-4-20250514, claude-sonnet-4-0, claude-opus-4-0
  { pattern: /^claude-(opus|sonnet)-4(-0)?(-\d{8})?$/, temperatureWithTopP: true },
  // Claude 4.1, 4.5, 4.6: claude-opus-4-1, claude-sonnet-4-5-20250929, claude-haiku-4-5, claude-opus-4-6 … — these
  // answer "`temperature` and `top_p` cannot both be specified for this model" (e.g. BerriAI/litellm#15097).
  { pattern: /^claude-(opus|sonnet|haiku)-4-[156](-\d{8})?$/, temperatureWithTopP: false },
]

export function samplingLimits(model: string): SamplingLimits {
  const free = FREE_SAMPLING.find(({ pattern }) => pattern.test(model))
  if (!free) return { restricted: true, temperatureWithTopP: false }
  return { restricted: false, temperatureWithTopP: free.temperatureWithTopP }
}

// ── Translation ─────────────────────────────────────────────────────────────────────────────────────────────

const THINKING_BUDGET: Record<ReasoningEffort, number | undefined> = {
  none: undefined,
  minimal: 1024,
  low: 1024,
  medium: 2048,
  high: 4096,
  xhigh: 8192,
  max: 16384,
}

// Anthropic has no schema-less JSON mode: output_config.format needs a schema, and LiteLLM's forced-tool trick
// turns the answer into a tool call that the response side would have to unwrap again. An instruction keeps the
// answer in message.content where json_object clients look for it.
const JSON_OBJECT_INSTRUCTION =
  'Respond with a single valid JSON object and nothing else: no prose before or after it, no Markdown code fences.'

export function toAnthropicRequest(req: ChatCompletionRequest, opts: { defaultMaxTokens: number }): AnthropicRequest {
  if (req.n != null && req.n > 1) {
    throw new TranslationError('n > 1 is not supported: Claude returns a single choice per request', 'n')
  }
  const { system, messages } = translateMessages(req.messages)
  if (messages.length === 0) {
    throw new TranslationError('messages must include at least one non-empty user or assistant message', 'messages')
  }

  const format = req.response_format
  const schema = format?.type === 'json_schema' ? format.json_schema.schema : undefined
  if (format?.type === 'json_object' || (format?.type === 'json_schema' && !schema)) {
    system.push({ type: 'text', text: JSON_OBJECT_INSTRUCTION })
  }

  const toolChoice = translateToolChoice(req)
  const budget = thinkingBudget(req.reasoning_effort, toolChoice, messages)
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? opts.defaultMaxTokens

  const out: AnthropicRequest = {
    model: req.model,
    // thinking tokens count against max_tokens, which must exceed the budget: keep the client's answer budget on top
    max_tokens: budget ? budget + maxTokens : maxTokens,
    messages,
  }
  if (system.length > 0) out.system = system
  const stops = stopSequences(req.stop)
  if (stops.length > 0) out.stop_sequences = stops
  // Extended thinking requires default sampling, so the client's sampling hints give way to reasoning_effort.
  if (!budget) Object.assign(out, sampling(req, samplingLimits(req.model)))
  if (req.stream != null) out.stream = req.stream
  if (req.tools && req.tools.length > 0) out.tools = req.tools.map(translateTool)
  if (toolChoice) out.tool_choice = toolChoice
  const userId = anonymousUserId(req.user)
  if (userId) out.metadata = { user_id: userId }
  if (budget) out.thinking = { type: 'enabled', budget_tokens: budget }
  if (schema) out.output_config = { format: { type: 'json_schema', schema } }
  return out
}

function translateMessages(input: ChatMessage[]): { system: AnthropicTextBlock[]; messages: AnthropicMessageParam[] } {
  const system: AnthropicTextBlock[] = []
  const messages: AnthropicMessageParam[] = []
  input.forEach((message, i) => {
    const at = `messages[${i}]`
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textBlocks(message.content))
        break
      case 'user':
        appendTurn(messages, 'user', userBlocks(message.content, at))
        break
      case 'assistant':
        appendTurn(messages, 'assistant', assistantBlocks(message, at))
        break
      case 'tool':
        appendTurn(messages, 'user', [toolResult(message)])
        break
    }
  })
  return { system, messages }
}

/**
 * Consecutive same-role turns become one Anthropic message. A user message must start with its tool_result
 * blocks (Anthropic: "Messages following tool_use blocks must begin with a matching number of tool_result blocks").
 * Empty turns are skipped: Anthropic rejects a message without content.
 */
function appendTurn(messages: AnthropicMessageParam[], role: 'user' | 'assistant', blocks: AnthropicContentBlock[]) {
  if (blocks.length === 0) return
  const last = messages.at(-1)
  if (last?.role !== role) {
    messages.push({ role, content: blocks })
    return
  }
  const content = [...last.content, ...blocks]
  last.content =
    role === 'user' ? [...content.filter(isToolResult), ...content.filter((block) => !isToolResult(block))] : content
}

function isToolResult(block: AnthropicContentBlock): block is AnthropicToolResultBlock {
  return block.type === 'tool_result'
}

type TextPart = z.infer<typeof textPart>

// Anthropic rejects text blocks without non-whitespace text.
function textBlocks(content: string | TextPart[]): AnthropicTextBlock[] {
  const parts = typeof content === 'string' ? [{ type: 'text' as const, text: content }] : content
  return parts.filter((part) => part.text.trim() !== '').map(textBlock)
}

function textBlock(part: TextPart): AnthropicTextBlock {
  return part.cache_control
    ? { type: 'text', text: part.text, cache_control: part.cache_control }
    : { type: 'text', text: part.text }
}

function userBlocks(content: string | z.infer<typeof userPart>[], at: string): AnthropicContentBlock[] {
  if (typeof content === 'string') return textBlocks(content)
  return content.flatMap((part, j): AnthropicContentBlock[] => {
    const param = `${at}.content[${j}]`
    switch (part.type) {
      case 'text':
        return textBlocks([part])
      case 'image_url':
        return [imageBlock(part.image_url.url, `${param}.image_url.url`)]
      case 'file':
        return [documentBlock(part.file, `${param}.file`)]
    }
  })
}

const IMAGE_MEDIA_TYPES: ReadonlyMap<string, ImageMediaType> = new Map([
  ['image/jpeg', 'image/jpeg'],
  ['image/jpg', 'image/jpeg'], // a common misspelling clients send
  ['image/png', 'image/png'],
  ['image/gif', 'image/gif'],
  ['image/webp', 'image/webp'],
])

function imageBlock(url: string, param: string): AnthropicImageBlock {
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } }
  if (!url.startsWith('data:')) {
    throw new TranslationError('image_url.url must be an http(s) URL or a base64 data: URL', param)
  }
  const { mediaType, data } = parseDataUrl(url, param)
  const media = IMAGE_MEDIA_TYPES.get(mediaType)
  if (!media) {
    throw new TranslationError(
      `unsupported image type '${mediaType}'; Claude accepts image/jpeg, image/png, image/gif and image/webp`,
      param,
    )
  }
  return { type: 'image', source: { type: 'base64', media_type: media, data } }
}

function documentBlock(file: z.infer<typeof filePart>['file'], param: string): AnthropicDocumentBlock {
  if (file.file_data === undefined) {
    throw new TranslationError(
      file.file_id ? 'file_id is not supported; send the file inline as file_data' : 'file.file_data is required',
      param,
    )
  }
  let data = file.file_data
  if (data.startsWith('data:')) {
    const parsed = parseDataUrl(data, `${param}.file_data`)
    if (parsed.mediaType !== 'application/pdf') {
      const message = `unsupported file type '${parsed.mediaType}'; only PDF files are supported`
      throw new TranslationError(message, `${param}.file_data`)
    }
    data = parsed.data
  }
  // Raw base64 carries no media type; PDF is the one document type Claude reads as base64.
  const block: AnthropicDocumentBlock = {
    type: 'document',
    source: { type: 'base64', media_type: 'application/pdf', data },
  }
  if (file.filename) block.title = file.filename
  return block
}

function parseDataUrl(url: string, param: string): { mediaType: string; data: string } {
  const match = /^data:([^;,]+)(?:;[^,]*)?;base64,(.+)$/is.exec(url)
  if (!match?.[1] || !match[2]) {
    throw new TranslationError('expected a base64 data URL (data:<media type>;base64,<data>)', param)
  }
  return { mediaType: match[1].trim().toLowerCase(), data: match[2] }
}

function assistantBlocks(message: Extract<ChatMessage, { role: 'assistant' }>, at: string): AnthropicContentBlock[] {
  const content = message.content ?? []
  const parts: TextPart[] =
    typeof content === 'string'
      ? [{ type: 'text', text: content }]
      : content.map((part) => (part.type === 'text' ? part : { type: 'text', text: part.refusal }))
  const toolUses = (message.tool_calls ?? []).map(
    (call, k): AnthropicToolUseBlock => ({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: parseArguments(call.function.arguments, `${at}.tool_calls[${k}].function.arguments`),
    }),
  )
  return [...textBlocks(parts), ...toolUses]
}

function parseArguments(json: string, param: string): Record<string, unknown> {
  // Some clients send "" for a call without arguments.
  if (json.trim() === '') return {}
  let input: unknown
  try {
    input = JSON.parse(json)
  } catch (err) {
    throw new TranslationError(`${param} is not valid JSON: ${(err as Error).message}`, param)
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TranslationError(`${param} must be a JSON object`, param)
  }
  return input as Record<string, unknown>
}

function toolResult(message: Extract<ChatMessage, { role: 'tool' }>): AnthropicToolResultBlock {
  const block: AnthropicToolResultBlock = { type: 'tool_result', tool_use_id: message.tool_call_id }
  if (typeof message.content === 'string') {
    if (message.content.trim() !== '') block.content = message.content
  } else {
    const blocks = textBlocks(message.content)
    if (blocks.length > 0) block.content = blocks
  }
  return block
}

function stopSequences(stop: string | string[] | null | undefined): string[] {
  const list = typeof stop === 'string' ? [stop] : (stop ?? [])
  // Anthropic rejects whitespace-only stop sequences.
  return list.filter((s) => s.trim() !== '')
}

function sampling(req: ChatCompletionRequest, limits: SamplingLimits): Pick<AnthropicRequest, 'temperature' | 'top_p'> {
  // OpenAI's temperature range is 0–2, Anthropic's 0–1.
  let temperature = req.temperature == null ? undefined : Math.min(req.temperature, 1)
  let topP = req.top_p ?? undefined
  if (limits.restricted) {
    if (temperature !== 1) temperature = undefined
    if (topP !== undefined && topP < 0.99) topP = undefined
  }
  // Newer models reject both together; temperature is the knob clients mean more often.
  if (temperature !== undefined && topP !== undefined && !limits.temperatureWithTopP) topP = undefined
  const out: Pick<AnthropicRequest, 'temperature' | 'top_p'> = {}
  if (temperature !== undefined) out.temperature = temperature
  if (topP !== undefined) out.top_p = topP
  return out
}

function translateTool({ function: fn }: z.infer<typeof tool>): AnthropicTool {
  const out: AnthropicTool = { name: fn.name, input_schema: fn.parameters ?? { type: 'object', properties: {} } }
  if (fn.description !== undefined) out.description = fn.description
  return out
}

function translateToolChoice(req: ChatCompletionRequest): AnthropicToolChoice | undefined {
  // A tool_choice without tools is meaningless upstream (and clients send "none" with no tools).
  if (!req.tools || req.tools.length === 0) return undefined
  const choice = req.tool_choice
  const mapped: AnthropicToolChoice | undefined =
    choice == null
      ? undefined
      : typeof choice === 'object'
        ? { type: 'tool', name: choice.function.name }
        : { type: choice === 'required' ? 'any' : choice }
  if (req.parallel_tool_calls !== false || mapped?.type === 'none') return mapped
  return { ...(mapped ?? { type: 'auto' }), disable_parallel_tool_use: true }
}

function thinkingBudget(
  effort: ReasoningEffort | null | undefined,
  toolChoice: AnthropicToolChoice | undefined,
  messages: AnthropicMessageParam[],
): number | undefined {
  const budget = effort ? THINKING_BUDGET[effort] : undefined
  if (budget === undefined) return undefined
  // Anthropic rejects thinking together with a forced tool call.
  if (toolChoice?.type === 'any' || toolChoice?.type === 'tool') return undefined
  // With thinking on, the assistant turn of an ongoing tool loop must start with its signed thinking block, which an
  // OpenAI client cannot send back ("a final assistant message must start with a thinking block"): answer without.
  const lastAssistant = messages.findLast((m) => m.role === 'assistant')
  if (lastAssistant?.content.some((b) => b.type === 'tool_use')) return undefined
  return budget
}

const EMAIL = /\S+@\S+\.\S+/
const PHONE = /^\+?[\d\s().-]+$/

/** metadata.user_id must be an opaque id: values that look like an email or a phone number are not forwarded. */
function anonymousUserId(user: string | null | undefined): string | undefined {
  if (!user) return undefined
  if (EMAIL.test(user)) return undefined
  if (PHONE.test(user) && user.replace(/\D/g, '').length >= 7) return undefined
  return user
}
