import type { ConversationContent } from './request-record.ts'

export interface RedactionRule {
  pattern: RegExp
  replacement: string
}

/**
 * Secrets people paste into conversations: API keys, bearer tokens, JWTs, cloud access keys. Masked before
 * content leaves the request path, whatever the configured rules add.
 */
export const BUILTIN_RULES: RedactionRule[] = [
  { pattern: /\bsk-ant-[A-Za-z0-9_-]{20,}/g, replacement: '[REDACTED_ANTHROPIC_KEY]' },
  { pattern: /\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}/g, replacement: '[REDACTED_API_KEY]' },
  { pattern: /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/gi, replacement: 'Bearer [REDACTED]' },
  { pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, replacement: '[REDACTED_JWT]' },
  { pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replacement: '[REDACTED_AWS_KEY]' },
  { pattern: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g, replacement: '[REDACTED_GITHUB_TOKEN]' },
]

export class Redactor {
  readonly #rules: RedactionRule[]

  constructor(opts: { builtin: boolean; rules: Array<{ pattern: string; replacement: string }> }) {
    this.#rules = [
      ...(opts.builtin ? BUILTIN_RULES : []),
      ...opts.rules.map((r) => ({ pattern: new RegExp(r.pattern, 'g'), replacement: r.replacement })),
    ]
  }

  /** In JSON text the replacement is JSON-escaped, so masking never breaks the document. */
  text(s: string, json = false): string {
    let out = s
    for (const rule of this.#rules) {
      out = out.replace(rule.pattern, json ? JSON.stringify(rule.replacement).slice(1, -1) : rule.replacement)
    }
    return out
  }

  content(c: ConversationContent): ConversationContent {
    return {
      system_prompt: this.text(c.system_prompt),
      messages_json: this.text(c.messages_json, true),
      prompt: this.text(c.prompt),
      completion: this.text(c.completion),
      tool_calls: this.text(c.tool_calls, true),
      tool_results: this.text(c.tool_results, true),
    }
  }
}
