import { createHmac, randomBytes } from 'node:crypto'
import type { Config } from '../config.ts'
import type { ConversationContent } from './request-record.ts'
import { SECRET_NAME, findSecrets, type SecretSpan } from './secret-rules.ts'
import { mediaPlaceholder, mediaOf } from './media.ts'

export interface RedactionRule {
  pattern: RegExp
  replacement: string
}

export interface RedactorOptions {
  /** conversations.redact_builtin: the secret rules (secret-rules.ts) */
  builtin: boolean
  /** conversations.redact: the operator's own patterns, applied after the secret rules */
  rules: Array<{ pattern: string; replacement: string }>
  /** conversations.store_media: keep base64 images and documents in stored content */
  storeMedia?: boolean
  /** keys the pseudonyms of identifiers of tokens without conversation logging; random when not given */
  pseudonymKey?: Buffer
}

/** Nested deeper than this, a part of a JSON document is not walked but withheld (a stack stays bounded). */
const MAX_DEPTH = 128

/** Characters of texts and their masked forms remembered (about 16 MB). */
const MEMO_CHARS = 8 * 1024 * 1024

/**
 * What of the client's text a record may keep, and how it is masked: secrets found by the rule set become
 * `[REDACTED_<KIND>]`, values of keys that name a secret (`"password": …`) too, base64 media become a
 * placeholder unless stored on purpose. JSON fields are parsed and rebuilt, so masking works on the text as
 * written (a PEM block pasted into a tool result, its newlines escaped in JSON, is still one block) and the
 * result is always valid JSON.
 */
export class Redactor {
  readonly #builtin: boolean
  readonly #rules: RedactionRule[]
  readonly #storeMedia: boolean
  readonly pseudonymKey: Buffer

  constructor(opts: RedactorOptions) {
    this.#builtin = opts.builtin
    this.#rules = opts.rules.map((r) => ({ pattern: new RegExp(r.pattern, 'g'), replacement: r.replacement }))
    this.#storeMedia = opts.storeMedia ?? false
    this.pseudonymKey = opts.pseudonymKey ?? randomBytes(32)
  }

  /** From the configuration (after the secrets are in place: the pseudonym key derives from jwt.secret). */
  static fromConfig(config: Config): Redactor {
    return new Redactor({
      builtin: config.conversations.redact_builtin,
      rules: config.conversations.redact,
      storeMedia: config.conversations.store_media,
      pseudonymKey: createHmac('sha256', config.jwt.secret).update('ccproxy identifier pseudonyms').digest(),
    })
  }

  /** Plain text with every secret masked. */
  text(s: string): string {
    const known = this.#masked.get(s)
    if (known !== undefined) return known
    let out = this.#builtin ? mask(s, findSecrets(s)) : s
    for (const rule of this.#rules) out = out.replace(rule.pattern, rule.replacement)
    this.#remember(s, out)
    return out
  }

  // The same texts come back again and again: JSON keys, system prompts, and — since a client sends the
  // whole conversation each turn — every earlier message. Their masked form is kept (the most recent, up to
  // MEMO_CHARS characters), so a long conversation is scanned once, not once per turn.
  readonly #masked = new Map<string, string>()
  #maskedChars = 0

  #remember(s: string, out: string): void {
    if (s.length > MEMO_CHARS / 8) return
    this.#masked.set(s, out)
    this.#maskedChars += s.length + out.length
    for (const [oldest, masked] of this.#masked) {
      if (this.#maskedChars <= MEMO_CHARS) break
      this.#masked.delete(oldest)
      this.#maskedChars -= oldest.length + masked.length
    }
  }

  /** A JSON document with every string in it masked, secret-named values withheld and media replaced. */
  json(s: string): string {
    let value: unknown
    try {
      value = JSON.parse(s)
    } catch {
      return JSON.stringify('[content withheld: not valid JSON]')
    }
    return JSON.stringify(this.#walk(value, '', 0))
  }

  content(c: ConversationContent): ConversationContent {
    return {
      system_prompt: this.text(c.system_prompt),
      messages_json: this.json(c.messages_json),
      prompt: this.text(c.prompt),
      completion: this.text(c.completion),
      tool_calls: this.json(c.tool_calls),
      tool_results: this.json(c.tool_results),
    }
  }

  #walk(value: unknown, key: string, depth: number): unknown {
    if (typeof value === 'string') {
      if (!this.#storeMedia) {
        const media = mediaOf(key, value)
        if (media) return mediaPlaceholder(media)
      }
      if (this.#builtin && value !== '' && SECRET_NAME.test(key)) return '[REDACTED_SECRET]'
      return this.text(value)
    }
    if (typeof value === 'number' && this.#builtin && SECRET_NAME.test(key)) return '[REDACTED_SECRET]'
    if (value === null || typeof value !== 'object') return value
    if (depth >= MAX_DEPTH) return '[content withheld: nested too deep]'
    if (Array.isArray(value)) return value.map((item) => this.#walk(item, '', depth + 1))
    const object = value as Record<string, unknown>
    // an Anthropic base64 source: {type: 'base64', media_type, data}
    const base64Source = object.type === 'base64' && typeof object.data === 'string' && !this.#storeMedia
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(object)) {
      out[this.text(k)] =
        base64Source && k === 'data' ? mediaPlaceholder({ mediaType: String(object.media_type ?? ''), base64: v as string }) : this.#walk(v, k, depth + 1)
    }
    return out
  }
}

/** Replaces the spans (merged where they overlap) by `[REDACTED_<KIND>]`; the earliest span names a merged one. */
export function mask(s: string, spans: SecretSpan[]): string {
  if (spans.length === 0) return s
  const merged: SecretSpan[] = []
  for (const span of [...spans].sort((a, b) => a.start - b.start || b.end - a.end)) {
    const last = merged.at(-1)
    if (last && span.start < last.end) last.end = Math.max(last.end, span.end)
    else merged.push({ ...span })
  }
  let out = ''
  let at = 0
  for (const span of merged) {
    out += `${s.slice(at, span.start)}[REDACTED_${span.kind}]`
    at = span.end
  }
  return out + s.slice(at)
}
