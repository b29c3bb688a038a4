// OpenAI Chat Completions ⇄ Anthropic Messages translation: pure functions over plain objects, no I/O.
export {
  TranslationError,
  chatCompletionRequestSchema,
  parseChatCompletionRequest,
  samplingLimits,
  toAnthropicRequest,
} from './request.ts'
export type { ChatCompletionRequest, SamplingLimits } from './request.ts'
export { finishReason, openAIError, toChatCompletion, toOpenAIError, toOpenAIUsage } from './response.ts'
export { ChatStreamTranslator } from './stream.ts'
export type { ChatStreamOptions } from './stream.ts'
export type * from './types.ts'
