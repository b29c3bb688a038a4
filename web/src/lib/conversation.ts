// A stored conversation, read into one shape whichever API the client spoke: Anthropic Messages
// (content blocks: text, thinking, tool_use, tool_result, image, document) or OpenAI Chat Completions (string
// or part contents, assistant tool_calls, tool messages). The gateway stores the request's messages as the
// client sent them, plus the answer's text and tool calls.

import type { Conversation } from '../api/types.ts'

export type Role = 'user' | 'assistant' | 'system' | 'tool'

export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; text: string; redacted: boolean }
  | { kind: 'tool_call'; id: string; name: string; input: unknown; n: number }
  | { kind: 'tool_result'; toolUseId: string; content: string; isError: boolean }
  | { kind: 'image'; src?: string; url?: string; mediaType?: string; note?: string }
  | { kind: 'document'; name?: string; mediaType?: string; note?: string }

export interface Message {
  role: Role
  blocks: Block[]
  /** the answer ccproxy recorded for this request (not part of the request's history) */
  answer?: boolean
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown) => (typeof v === 'string' ? v : '')
const NOT_STORED = /^\[media not stored[^\]]*\]$/

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** JSON text pretty-printed; anything else as it is. */
export function prettyJson(value: unknown): string {
  if (typeof value === 'string') {
    const parsed = parseJson(value)
    return parsed !== undefined && typeof parsed === 'object' ? JSON.stringify(parsed, null, 2) : value
  }
  return JSON.stringify(value, null, 2) ?? String(value)
}

/** A tool result's content (a string, or text/image blocks) as text. */
function resultText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return content === undefined ? '' : prettyJson(content)
  return content
    .map((b) => (isObject(b) && b.type === 'text' ? str(b.text) : isObject(b) && b.type === 'image' ? '[image]' : prettyJson(b)))
    .join('\n')
}

function mediaBlock(kind: 'image' | 'document', source: unknown, extra: { name?: string } = {}): Block {
  if (!isObject(source)) return kind === 'image' ? { kind } : { kind, ...extra }
  const mediaType = str(source.media_type) || undefined
  const data = str(source.data)
  if (NOT_STORED.test(data)) return { kind, mediaType, note: data, ...extra }
  if (source.type === 'url') return kind === 'image' ? { kind, url: str(source.url), mediaType } : { kind, mediaType, note: str(source.url), ...extra }
  if (kind === 'image' && source.type === 'base64' && data && mediaType?.startsWith('image/')) return { kind, src: `data:${mediaType};base64,${data}`, mediaType }
  return kind === 'image' ? { kind, mediaType } : { kind, mediaType, ...extra }
}

function imageUrlBlock(url: string): Block {
  if (NOT_STORED.test(url)) return { kind: 'image', note: url }
  const data = /^data:(image\/[\w.+-]+);base64,/i.exec(url)
  if (data) return { kind: 'image', src: url, mediaType: data[1] }
  // a remote image is linked, not loaded: opening a conversation must not call out to other sites
  return { kind: 'image', url }
}

class Reader {
  toolCalls = 0

  blocks(content: unknown): Block[] {
    if (typeof content === 'string') return content ? [{ kind: 'text', text: content }] : []
    if (!Array.isArray(content)) return []
    return content.flatMap((b): Block[] => {
      if (typeof b === 'string') return [{ kind: 'text', text: b }]
      if (!isObject(b)) return []
      switch (b.type) {
        case 'text':
        case 'input_text':
        case 'output_text':
          return [{ kind: 'text', text: str(b.text) }]
        case 'thinking':
          return [{ kind: 'thinking', text: str(b.thinking), redacted: false }]
        case 'redacted_thinking':
          return [{ kind: 'thinking', text: '', redacted: true }]
        case 'tool_use':
        case 'server_tool_use':
          return [{ kind: 'tool_call', id: str(b.id), name: str(b.name), input: b.input ?? {}, n: ++this.toolCalls }]
        case 'tool_result':
          return [{ kind: 'tool_result', toolUseId: str(b.tool_use_id), content: resultText(b.content), isError: b.is_error === true }]
        case 'image':
          return [mediaBlock('image', b.source)]
        case 'document':
          return [mediaBlock('document', b.source, { name: str(b.title) || undefined })]
        case 'image_url':
          return [imageUrlBlock(isObject(b.image_url) ? str(b.image_url.url) : str(b.image_url))]
        case 'file': {
          const file = isObject(b.file) ? b.file : {}
          const data = str(file.file_data)
          return [{ kind: 'document', name: str(file.filename) || undefined, note: NOT_STORED.test(data) ? data : undefined }]
        }
        default:
          return [{ kind: 'text', text: prettyJson(b) }]
      }
    })
  }

  /** OpenAI assistant tool_calls: arguments arrive as JSON text. */
  openaiToolCalls(calls: unknown): Block[] {
    if (!Array.isArray(calls)) return []
    return calls.filter(isObject).map((c) => {
      const fn = isObject(c.function) ? c.function : {}
      const args = str(fn.arguments)
      return { kind: 'tool_call' as const, id: str(c.id), name: str(fn.name), input: parseJson(args) ?? args, n: ++this.toolCalls }
    })
  }

  message(raw: unknown): Message | undefined {
    if (!isObject(raw)) return undefined
    const role = str(raw.role)
    if (role === 'tool') {
      return { role: 'tool', blocks: [{ kind: 'tool_result', toolUseId: str(raw.tool_call_id), content: resultText(raw.content), isError: false }] }
    }
    const blocks: Block[] = []
    if (typeof raw.reasoning_content === 'string' && raw.reasoning_content) blocks.push({ kind: 'thinking', text: raw.reasoning_content, redacted: false })
    blocks.push(...this.blocks(raw.content), ...this.openaiToolCalls(raw.tool_calls))
    const normalRole: Role = role === 'assistant' ? 'assistant' : role === 'system' || role === 'developer' ? 'system' : 'user'
    return { role: normalRole, blocks }
  }
}

export interface ReadConversation {
  system: string
  messages: Message[]
  /** messages_json could not be read: it is shown raw */
  unreadable?: string
}

/** The history (without system messages, shown apart), then the recorded answer. */
export function readConversation(c: Pick<Conversation, 'system_prompt' | 'messages_json' | 'completion' | 'tool_calls'>): ReadConversation {
  const reader = new Reader()
  const parsed = parseJson(c.messages_json)
  const messages: Message[] = []
  let unreadable: string | undefined
  if (Array.isArray(parsed)) {
    for (const raw of parsed) {
      const m = reader.message(raw)
      if (m && !(m.role === 'system' && c.system_prompt)) messages.push(m)
    }
  } else if (c.messages_json && c.messages_json !== '[]') {
    unreadable = c.messages_json
  }
  const answer: Block[] = []
  if (c.completion) answer.push({ kind: 'text', text: c.completion })
  const calls = parseJson(c.tool_calls)
  if (Array.isArray(calls)) {
    for (const call of calls.filter(isObject)) answer.push({ kind: 'tool_call', id: str(call.id), name: str(call.name), input: call.input ?? {}, n: ++reader.toolCalls })
  }
  if (answer.length) messages.push({ role: 'assistant', blocks: answer, answer: true })
  return { system: c.system_prompt, messages, ...(unreadable ? { unreadable } : {}) }
}

export type Segment = { kind: 'text'; text: string } | { kind: 'code'; language?: string; code: string }

/** Text with Markdown code fences split into prose and code (an unclosed fence runs to the end). */
export function splitFences(text: string): Segment[] {
  const segments: Segment[] = []
  const fence = /^(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n/gm
  let at = 0
  let open: RegExpExecArray | null
  while ((open = fence.exec(text))) {
    const before = text.slice(at, open.index)
    if (before.trim()) segments.push({ kind: 'text', text: before.replace(/\n$/, '') })
    const marker = open[1]!
    const close = new RegExp(`^${marker[0] === '`' ? '`' : '~'}{${marker.length},}[ \\t]*$`, 'gm')
    close.lastIndex = fence.lastIndex
    const end = close.exec(text)
    const code = text.slice(fence.lastIndex, end ? end.index : text.length).replace(/\n$/, '')
    segments.push({ kind: 'code', code, ...(open[2] ? { language: open[2] } : {}) })
    at = end ? end.index + end[0].length : text.length
    fence.lastIndex = at
  }
  const rest = text.slice(at).replace(/^\n/, '')
  if (rest.trim()) segments.push({ kind: 'text', text: rest })
  return segments
}

/** The plain text of a block, for its copy button. */
export function blockText(block: Block): string {
  switch (block.kind) {
    case 'text':
    case 'thinking':
      return block.text
    case 'tool_call':
      return prettyJson(block.input)
    case 'tool_result':
      return block.content
    case 'image':
      return block.src ?? block.url ?? block.note ?? ''
    case 'document':
      return block.note ?? block.name ?? ''
  }
}
