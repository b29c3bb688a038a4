/**
 * A model name is the client's text until the upstream has accepted it. Where it becomes a metric label, an
 * aggregate key (request_logs.model feeds usage_stats_daily's key) or a span name, it must neither carry what
 * a client typed there (a pasted key, a name) nor let a client mint new series at will. So a name is kept
 * when the upstream answered it (Anthropic answers only models that exist) or when it is one of the models
 * listed here; any other name is `other`.
 */

/** Anthropic's model ids and aliases (the `Model` union of @anthropic-ai/sdk, and the earlier models still served). */
export const KNOWN_MODELS: ReadonlySet<string> = new Set([
  'claude-fable-5-2',
  'claude-mythos-5-2',
  'claude-haiku-5-5',
  'claude-sonnet-5-5',
  'claude-opus-5-5',
  'claude-fable-5-1',
  'claude-mythos-5-1',
  'claude-sonnet-5',
  'claude-fable-5',
  'claude-mythos-5',
  'claude-opus-5',
  'claude-mythos-preview',
  'claude-opus-4-8',
  'claude-opus-4-7',
  'claude-opus-4-6',
  'claude-sonnet-4-6',
  'claude-opus-4-5',
  'claude-opus-4-5-20251101',
  'claude-sonnet-4-5',
  'claude-sonnet-4-5-20250929',
  'claude-haiku-4-5',
  'claude-haiku-4-5-20251001',
  'claude-opus-4-1',
  'claude-opus-4-1-20250805',
  'claude-opus-4-0',
  'claude-opus-4-20250514',
  'claude-sonnet-4-0',
  'claude-sonnet-4-20250514',
  'claude-3-7-sonnet-latest',
  'claude-3-7-sonnet-20250219',
  'claude-3-5-haiku-latest',
  'claude-3-5-haiku-20241022',
  'claude-3-haiku-20240307',
])

export const OTHER_MODEL = 'other'

// Even an accepted name must look like a model id (an upstream behind another proxy may accept anything).
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/

/** The model name as labels, aggregate keys and span names may carry it ('' stays '': no model was named). */
export function boundedModel(model: string | null | undefined, acceptedByUpstream: boolean): string {
  if (!model) return ''
  if (KNOWN_MODELS.has(model)) return model
  return acceptedByUpstream && MODEL_ID.test(model) ? model : OTHER_MODEL
}
