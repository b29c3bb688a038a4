// Anthropic Messages SSE events → OpenAI chat.completion.chunk objects (reference/wire-formats.md §3, §6.2, §7.4).
import { mergeUsage } from '../../record/exchange.ts'
import { finishReason, openAIError, toOpenAIUsage } from './response.ts'
import type {
  AnthropicErrorDetail,
  AnthropicUsage,
  ChatCompletionChunk,
  ChunkDelta,
  CompletionUsage,
  FinishReason,
  OpenAIErrorBody,
} from './types.ts'

/** The parts of Anthropic stream event payloads this translator reads; everything else in them is ignored. */
interface StreamEventData {
  message?: { model?: string; usage?: AnthropicUsage }
  index?: number
  content_block?: { type?: string; id?: string; name?: string }
  delta?: { type?: string; text?: string; thinking?: string; partial_json?: string; stop_reason?: string | null }
  usage?: AnthropicUsage
}

export interface ChatStreamOptions {
  id: string
  created: number
  /** stream_options.include_usage: every chunk carries `usage: null`, and a last chunk carries the usage. */
  includeUsage: boolean
  /** Names the chunks until message_start says which model answers. */
  requestedModel: string
}

/**
 * One per streamed request. Feed every upstream SSE event to `push` in order and write each returned chunk as
 * `data: <json>\n\n`. After message_stop (`finished`), write `data: [DONE]`. On an upstream `error` event write
 * `data: <error(...) json>\n\n` and close without [DONE].
 */
export class ChatStreamTranslator {
  /** message_stop arrived: the stream ended normally. */
  finished = false
  /** Set by the first message_delta that carries a stop_reason. */
  finishReason: FinishReason | null = null

  private readonly id: string
  private readonly created: number
  private readonly includeUsage: boolean
  private model: string
  private anthropicUsage: AnthropicUsage = {}
  /** Tool calls by Anthropic block index. OpenAI numbers tool calls among themselves, not among all blocks. */
  private readonly toolCalls = new Map<number, { index: number; sentArguments: boolean }>()

  constructor(opts: ChatStreamOptions) {
    this.id = opts.id
    this.created = opts.created
    this.includeUsage = opts.includeUsage
    this.model = opts.requestedModel
  }

  /** Usage so far, in OpenAI's terms (final once finished). */
  get usage(): CompletionUsage {
    return toOpenAIUsage(this.anthropicUsage)
  }

  push(event: string, data: unknown): ChatCompletionChunk[] {
    const payload = (data ?? {}) as StreamEventData
    switch (event) {
      case 'message_start':
        return this.messageStart(payload)
      case 'content_block_start':
        return this.blockStart(payload)
      case 'content_block_delta':
        return this.blockDelta(payload)
      case 'content_block_stop':
        return this.blockStop(payload)
      case 'message_delta':
        return this.messageDelta(payload)
      case 'message_stop':
        return this.messageStop()
      default:
        return [] // ping, and event types newer than this code
    }
  }

  /** The payload for an upstream `error` event: OpenAI SDKs raise on a data line with a top-level `error`. */
  error(err: AnthropicErrorDetail): OpenAIErrorBody {
    return openAIError(err.type || 'api_error', err.message || 'The upstream stream failed.')
  }

  private messageStart({ message }: StreamEventData): ChatCompletionChunk[] {
    if (message?.model) this.model = message.model
    mergeUsage(this.anthropicUsage, message?.usage)
    return [this.chunk({ role: 'assistant', content: '' })]
  }

  private blockStart({ index, content_block: block }: StreamEventData): ChatCompletionChunk[] {
    if (block?.type !== 'tool_use' || index === undefined) return []
    const call = { index: this.toolCalls.size, sentArguments: false }
    this.toolCalls.set(index, call)
    return [
      this.chunk({
        tool_calls: [{ index: call.index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }],
      }),
    ]
  }

  private blockDelta({ index, delta }: StreamEventData): ChatCompletionChunk[] {
    switch (delta?.type) {
      case 'text_delta':
        return delta.text ? [this.chunk({ content: delta.text })] : []
      case 'thinking_delta':
        return delta.thinking ? [this.chunk({ reasoning_content: delta.thinking })] : []
      case 'input_json_delta': {
        const call = index === undefined ? undefined : this.toolCalls.get(index)
        // The first fragment is often "": nothing to send.
        if (!call || !delta.partial_json) return []
        call.sentArguments = true
        return [this.argumentsChunk(call.index, delta.partial_json)]
      }
      default:
        return [] // signature_delta, citations_delta
    }
  }

  private blockStop({ index }: StreamEventData): ChatCompletionChunk[] {
    const call = index === undefined ? undefined : this.toolCalls.get(index)
    if (!call || call.sentArguments) return []
    // A call without arguments still needs parseable arguments on the client.
    call.sentArguments = true
    return [this.argumentsChunk(call.index, '{}')]
  }

  private messageDelta({ delta, usage }: StreamEventData): ChatCompletionChunk[] {
    mergeUsage(this.anthropicUsage, usage)
    const reason = finishReason(delta?.stop_reason)
    if (!reason || this.finishReason) return []
    this.finishReason = reason
    return [this.chunk({}, reason)]
  }

  private messageStop(): ChatCompletionChunk[] {
    this.finished = true
    if (!this.includeUsage) return []
    return [{ ...this.envelope(), choices: [], usage: this.usage }]
  }

  private argumentsChunk(index: number, args: string): ChatCompletionChunk {
    return this.chunk({ tool_calls: [{ index, function: { arguments: args } }] })
  }

  private chunk(delta: ChunkDelta, finish: FinishReason | null = null): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = {
      ...this.envelope(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    }
    if (this.includeUsage) chunk.usage = null
    return chunk
  }

  private envelope(): Pick<ChatCompletionChunk, 'id' | 'object' | 'created' | 'model'> {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model }
  }
}
