import { rules as secretlintRules } from '@secretlint/secretlint-rule-preset-recommend'

/**
 * Where the secrets in a text are: the maintained secretlint rule set (its "recommend" preset: AWS, GitHub,
 * Slack, Anthropic, OpenAI, private keys, database connection strings and some twenty more providers) plus
 * ccproxy's own rules for what a provider-by-provider set leaves out: secrets named by their key in config
 * files, JSON and `.env` lines, passwords in any URL, keys in shapes the preset does not know (a short
 * `sk-ant-…`, `AIza…`, AWS key ids, bearer tokens, JWTs, truncated PEM blocks).
 *
 * Everything is synchronous: the masker runs when the record is built, after the response, on the same
 * tick, and a secretlint rule that answers with a promise would be a finding we never see (a test runs every
 * rule of the preset to make sure none does).
 */

export interface SecretSpan {
  start: number
  end: number
  /** what was found, for the replacement: ANTHROPIC_KEY, PASSWORD, AWS … */
  kind: string
}

/** The part of secretlint's rule API that its scanners use (the @secretlint/types rule context, reduced). */
interface ScannerRule {
  meta: { id: string }
  create(context: ScannerContext, options: object): { file?(source: ScannedSource): unknown }
}
interface ScannerContext {
  sharedOptions: object
  createTranslator(messages: object): (id: string, data?: object) => string
  report(descriptor: { range: readonly [number, number] | number[] }): void
  ignore(descriptor: object): void
}
interface ScannedSource {
  content: string
  filePath: string
  ext: string
  contentType: 'text'
}

// The end of a name that says its value is a secret: DB_PASSWORD, api_key, clientSecret, GITHUB_TOKEN, private-key.
const SECRET_WORD = String.raw`(?:password|passwd|passphrase|pwd|secret|token|credentials?|(?:api|access|secret|private|signing|encryption|master|session|client|auth)[_-]?key|apikey)`

/** A key (of a JSON object, say) whose value is a secret. */
export const SECRET_NAME = new RegExp(`${SECRET_WORD}$`, 'i')

// A value that is a type or a literal rather than a secret (`token: string` in a TypeScript interface), or
// the rest of a comparison (`password == other`).
const NOT_A_VALUE = String.raw`(?!=)(?!(?:string|number|boolean|bool|str|int|bytes|None|null|nil|undefined|true|false|any|Optional\b|String|SecretStr)\b)`

interface OwnRule {
  kind: string
  pattern: RegExp
  /** the capture group that holds the secret; the whole match when absent */
  group?: number
}

// `d` gives the capture groups' indices; every pattern is linear (no nested quantifiers over the same text).
const OWN_RULES: OwnRule[] = [
  // after any non-alphanumeric, an underscore included (KEY_sk-ant-…), and in any length
  { kind: 'ANTHROPIC_KEY', pattern: /(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_-]{16,}/dg },
  { kind: 'API_KEY', pattern: /(?<![A-Za-z0-9])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/dg },
  { kind: 'GOOGLE_API_KEY', pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/dg },
  { kind: 'AWS_KEY_ID', pattern: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])/dg },
  { kind: 'GITHUB_TOKEN', pattern: /(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/dg },
  { kind: 'SLACK_TOKEN', pattern: /(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}/dg },
  { kind: 'JWT', pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/dg },
  { kind: 'BEARER', pattern: /\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)/dgi, group: 1 },
  // a PEM private key, also one cut short (a file pasted in part): to the END line or the end of the text
  { kind: 'PRIVATE_KEY', pattern: /-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)/dg },
  // the password of any URL with user info: postgres://u:pw@h, redis://:pw@h, https://u:pw@h
  { kind: 'PASSWORD', pattern: /:\/\/[^\s:/?#@"'<>]{0,256}:([^\s/?#@"'<>]{1,256})@/dg, group: 1 },
  // NAME=value, NAME: value, "name": "value", name = 'value' — the value of a key whose name ends in a
  // secret word (the match starts at the word: DB_PASSWORD from PASSWORD, which keeps the scan linear)
  {
    kind: 'SECRET',
    pattern: new RegExp(
      String.raw`${SECRET_WORD}["']?[ \t]{0,8}[:=][ \t]{0,8}(?:"([^"\n]{1,1024})"|'([^'\n]{1,1024})'|${NOT_A_VALUE}([^\s"',;{}()\[\]<>]{1,1024}))`,
      'dgi',
    ),
    group: -1,
  },
]

const SCANNER = { filePath: 'conversation.txt', ext: '.txt', contentType: 'text' as const }
// A reported range can stop short of the secret (one of the preset's AWS reports spans the key's name and
// only the first part of its value): a report is widened over the token characters that follow it.
const TOKEN_CHAR = /[A-Za-z0-9+/=_.~-]/

/** secretlint's rules driven synchronously over one text, each reporting into the spans of the current scan. */
class SecretlintScanner {
  readonly #rules: Array<{ kind: string; file: (source: ScannedSource) => unknown }>
  #found: SecretSpan[] = []
  #kind = ''

  constructor(rules: ScannerRule[]) {
    const context: ScannerContext = {
      sharedOptions: {},
      createTranslator: () => (id) => id,
      report: ({ range: [start = 0, end = 0] }) => void this.#found.push({ start, end, kind: this.#kind }),
      // secretlint-disable comments are a repository owner's choice, not something a client may write
      ignore: () => {},
    }
    this.#rules = rules
      .filter((rule) => !rule.meta.id.endsWith('/secretlint-rule-filter-comments'))
      .flatMap((rule) => {
        const file = rule.create(context, {}).file
        const kind = rule.meta.id.replace('@secretlint/secretlint-rule-', '').replace(/-/g, '_').toUpperCase()
        return file ? [{ kind, file }] : []
      })
  }

  get ruleCount(): number {
    return this.#rules.length
  }

  /** Runs every rule; one that answers with a promise throws (its findings would otherwise be lost unseen). */
  scan(text: string): SecretSpan[] {
    this.#found = []
    const source = { ...SCANNER, content: text }
    for (const { kind, file } of this.#rules) {
      this.#kind = kind
      const result = file(source)
      if (result && typeof (result as Promise<unknown>).then === 'function') throw new Error(`secretlint rule ${kind} answered asynchronously`)
    }
    for (const span of this.#found) {
      while (span.end < text.length && TOKEN_CHAR.test(text[span.end]!)) span.end++
    }
    return this.#found
  }
}

const secretlint = new SecretlintScanner(secretlintRules as unknown as ScannerRule[])

/** How many of the preset's scanners run (the tests check that they all do). */
export const SECRETLINT_SCANNERS = secretlint.ruleCount

/** Every secret in `text`, as possibly overlapping spans. */
export function findSecrets(text: string): SecretSpan[] {
  // ours first: where both find the same secret, ours names it (the sort in mask() is stable)
  const spans: SecretSpan[] = []
  for (const rule of OWN_RULES) {
    for (const match of text.matchAll(rule.pattern)) {
      const indices = match.indices!
      // group -1: the first group that took part (one per way of quoting)
      const at = rule.group === -1 ? indices.slice(1).find((g) => g !== undefined) : indices[rule.group ?? 0]
      if (at && at[1] > at[0]) spans.push({ start: at[0], end: at[1], kind: rule.kind })
    }
  }
  return spans.concat(secretlint.scan(text))
}
