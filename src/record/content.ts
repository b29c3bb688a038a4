import type { ConversationContent } from './request-record.ts'

/**
 * The conversation of one request, captured only for tokens that opted in: the request side is read when
 * the request arrives, the answer is assembled from the upstream's Anthropic message or stream events
 * (both client dialects are Anthropic upstream, so one assembler serves both).
 */
export interface RequestSide {
  system_prompt: string
  messages_json: string
  prompt: string
  tool_results: unknown[]
}

type Block = { type?: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown; is_error?: boolean }

const textOf = (content: unknown): string => {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return (content as Block[])
    .filter((b) => b?.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text)
    .join('\n')
}

/** From an Anthropic Messages request body (the pass-through routes). */
export function anthropicRequestContent(body: { system?: unknown; messages?: unknown }): RequestSide {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string; content?: unknown }>) : []
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user')
  const toolResults = messages
    .filter((m) => m?.role === 'user' && Array.isArray(m.content))
    .flatMap((m) => (m.content as Block[]).filter((b) => b?.type === 'tool_result'))
    .map((b) => ({ tool_use_id: b.tool_use_id, content: b.content, ...(b.is_error ? { is_error: true } : {}) }))
  return {
    system_prompt: textOf(body.system),
    messages_json: JSON.stringify(body.messages ?? []),
    prompt: lastUser ? textOf(lastUser.content) : '',
    tool_results: toolResults,
  }
}

/** From an OpenAI Chat Completions request (the messages as the client sent them, in its dialect). */
export function openaiRequestContent(request: { messages: Array<{ role: string; content?: unknown; tool_call_id?: string }> }): RequestSide {
  const { messages } = request
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => textOf(m.content))
  const lastUser = [...messages].reverse().find((m) => m.role === 'user')
  return {
    system_prompt: system.join('\n'),
    messages_json: JSON.stringify(messages),
    prompt: lastUser ? textOf(lastUser.content) : '',
    tool_results: messages.filter((m) => m.role === 'tool').map((m) => ({ tool_use_id: m.tool_call_id, content: textOf(m.content) })),
  }
}

export class ContentCapture {
  #text: string[] = []
  #toolCalls: Array<{ id: string; name: string; input: unknown }> = []
  /** streamed tool calls by content block index, with their argument fragments */
  readonly #streaming = new Map<number, { id: string; name: string; json: string }>()

  constructor(private readonly request: RequestSide) {}

  /** A complete Anthropic message (a non-streamed answer). */
  observeMessage(message: { content?: unknown }): void {
    for (const block of Array.isArray(message.content) ? (message.content as Block[]) : []) {
      if (block.type === 'text' && typeof block.text === 'string') this.#text.push(block.text)
      if (block.type === 'tool_use') this.#toolCalls.push({ id: block.id ?? '', name: block.name ?? '', input: block.input ?? {} })
    }
  }

  /** One Anthropic stream event. */
  observeEvent(event: string, data: any): void {
    if (event === 'content_block_start' && data?.content_block?.type === 'tool_use') {
      this.#streaming.set(data.index, { id: data.content_block.id ?? '', name: data.content_block.name ?? '', json: '' })
    } else if (event === 'content_block_delta') {
      if (data?.delta?.type === 'text_delta') this.#text.push(data.delta.text ?? '')
      else if (data?.delta?.type === 'input_json_delta') {
        const call = this.#streaming.get(data.index)
        if (call) call.json += data.delta.partial_json ?? ''
      }
    } else if (event === 'content_block_stop') {
      const call = this.#streaming.get(data?.index)
      if (call) {
        this.#streaming.delete(data.index)
        this.#toolCalls.push({ id: call.id, name: call.name, input: parseOr(call.json, call.json) })
      }
    }
  }

  content(): ConversationContent {
    return {
      system_prompt: this.request.system_prompt,
      messages_json: this.request.messages_json,
      prompt: this.request.prompt,
      completion: this.#text.join(''),
      tool_calls: JSON.stringify(this.#toolCalls),
      tool_results: JSON.stringify(this.request.tool_results),
    }
  }
}

function parseOr(json: string, fallback: unknown): unknown {
  if (json.trim() === '') return {}
  try {
    return JSON.parse(json)
  } catch {
    return fallback
  }
}
