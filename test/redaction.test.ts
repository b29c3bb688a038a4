import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { rules as secretlintRules } from '@secretlint/secretlint-rule-preset-recommend'
import { Redactor, mask } from '../src/record/redaction.ts'
import { SECRETLINT_SCANNERS, findSecrets } from '../src/record/secret-rules.ts'
import { loadConfig } from '../src/config.ts'

// Secrets in the shapes people paste them in; every value is made up here, none is real.
const alnum = (n: number, seed = 7) => Array.from({ length: n }, (_, i) => 'aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0z'[(i * seed) % 31]).join('')
const AWS_SECRET = `${alnum(20)}/${alnum(19, 11)}`
const GITHUB_PAT = `github_pat_${alnum(22)}_${alnum(59, 13)}`
const SLACK = `xoxb-123456789012-1234567890123-${alnum(24)}`
const GOOGLE = `AIza${alnum(35, 17)}`
const ANTHROPIC = `sk-ant-api03-${alnum(93, 19)}AA`
const PEM = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
const PEM_BODY_LINE = PEM.split('\n')[1]!

/** Every secret the issue found stored verbatim, with where it sits. */
const HOSTILE: Array<[what: string, text: string, secret: string]> = [
  ['an AWS secret access key in a credentials file', `[default]\naws_access_key_id = AKIA${'Z'.repeat(16)}\naws_secret_access_key = ${AWS_SECRET}\n`, AWS_SECRET],
  ['an AWS secret access key in the environment', `export AWS_SECRET_ACCESS_KEY="${AWS_SECRET}"`, AWS_SECRET],
  ['an AWS access key id', `key id AKIA${'Z'.repeat(16)} in a log`, `AKIA${'Z'.repeat(16)}`],
  ['a fine-grained GitHub token', `git clone https://x:${GITHUB_PAT}@github.com/o/r`, GITHUB_PAT],
  ['a Slack bot token', `SLACK_BOT=${SLACK}`, SLACK],
  ['a Google API key', `fetch("https://maps.googleapis.com/?key=${GOOGLE}")`, GOOGLE],
  ['a PEM private key', `here is my key:\n${PEM}\nthanks`, PEM_BODY_LINE],
  ['a PEM private key cut short', `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n`, 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'],
  ['a password in a postgres URL', 'DATABASE_URL=postgres://app:s3cr3t-Pw@db.internal:5432/app', 's3cr3t-Pw'],
  ['a password in a redis URL', 'redis://:hunter2hunter2@cache:6379/0', 'hunter2hunter2'],
  ['a JSON password', '{"user": "bob", "password": "correct horse battery"}', 'correct horse battery'],
  ['a YAML password', 'db:\n  password: Tr0ub4dor&3\n', 'Tr0ub4dor&3'],
  ['a .env password', 'DB_HOST=localhost\nDB_PASSWORD=opensesame42\n', 'opensesame42'],
  ['a .env API key', 'API_KEY=abc123def456ghi789\n', 'abc123def456ghi789'],
  ['a client secret', "client_secret = 'Zm9vYmFyYmF6cXV4'", 'Zm9vYmFyYmF6cXV4'],
  ['an Anthropic key after an underscore', `KEY_${ANTHROPIC}`, ANTHROPIC],
  ['a short Anthropic key', 'sk-ant-api03-shortbutreal0123', 'sk-ant-api03-shortbutreal0123'],
  ['a bearer token', 'curl -H "Authorization: Bearer abcdef0123456789abcdef"', 'abcdef0123456789abcdef'],
]

const redactor = () => new Redactor({ builtin: true, rules: [] })

describe('secrets in text', () => {
  it.each(HOSTILE)('%s is masked', (_what, text, secret) => {
    const out = redactor().text(text)
    expect(out).not.toContain(secret)
    expect(out).toMatch(/\[REDACTED_[A-Z_]+\]/)
  })

  it('says what was found and keeps the text around it', () => {
    expect(redactor().text(`key ${ANTHROPIC} and DB_PASSWORD=opensesame42\nnext`)).toBe('key [REDACTED_ANTHROPIC_KEY] and DB_PASSWORD=[REDACTED_SECRET]\nnext')
    expect(redactor().text('postgres://app:s3cr3t@db/app')).toContain('[REDACTED_')
  })

  it('leaves ordinary text and code alone', () => {
    const code = [
      'interface Login { token: string; password: string | null }',
      'const max_tokens = 4096',
      'if (password == confirmation) return',
      'input_tokens: 12, output_tokens: 40',
      'The password policy needs twelve characters.',
      'https://example.com/docs?page=2',
      'sk-learn is a library',
    ].join('\n')
    expect(redactor().text(code)).toBe(code)
  })

  it('without redact_builtin only the configured rules apply', () => {
    const r = new Redactor({ builtin: false, rules: [{ pattern: 'CARD-\\d{4}', replacement: '[CARD]' }] })
    expect(r.text(`CARD-1234 ${ANTHROPIC}`)).toBe(`[CARD] ${ANTHROPIC}`)
  })

  it('merges overlapping findings into one mask named by the first', () => {
    expect(mask('abcdefghij', [{ start: 2, end: 6, kind: 'A' }, { start: 4, end: 8, kind: 'B' }, { start: 9, end: 10, kind: 'C' }])).toBe('ab[REDACTED_A]i[REDACTED_C]')
  })
})

describe('the maintained rule set', () => {
  it('runs every scanner of secretlint’s recommended preset, synchronously', () => {
    // the preset's comment filter is the only rule that reports nothing
    expect(SECRETLINT_SCANNERS).toBe(secretlintRules.length - 1)
    expect(() => findSecrets(`${PEM}\n${GITHUB_PAT}\n${SLACK}`)).not.toThrow()
  })

  it('finds what only the preset knows (an npm token, a Hugging Face token)', () => {
    const npm = `npm_${alnum(36)}`
    const hf = `hf_${'abcdefghijklmnopqrstuvwxyzABCDEFGH'}`
    const out = redactor().text(`//registry.npmjs.org/:_authToken=${npm}\nHF ${hf}`)
    expect(out).not.toContain(npm)
    expect(out).not.toContain(hf)
  })
})

describe('secrets in JSON fields (messages, tool calls, tool results)', () => {
  // Claude Code sends a whole file as a tool result: in the JSON its newlines are escaped.
  const toolResult = JSON.stringify([{ tool_use_id: 'toolu_1', content: `# .env\nDB_PASSWORD=opensesame42\nAWS_SECRET_ACCESS_KEY=${AWS_SECRET}\n${PEM}` }])

  it('masks inside strings and stays valid JSON', () => {
    const out = redactor().json(toolResult)
    const parsed = JSON.parse(out)
    expect(out).not.toContain('opensesame42')
    expect(out).not.toContain(AWS_SECRET)
    expect(out).not.toContain(PEM_BODY_LINE)
    expect(parsed[0].content).toContain('DB_PASSWORD=[REDACTED_SECRET]')
    expect(parsed[0].tool_use_id).toBe('toolu_1')
  })

  it('withholds the value of a key that names a secret, and keeps the rest', () => {
    const out = JSON.parse(redactor().json(JSON.stringify([{ name: 'login', input: { user: 'bob', password: 'pw', api_key: 12345, max_tokens: 10 } }])))
    expect(out[0].input).toEqual({ user: 'bob', password: '[REDACTED_SECRET]', api_key: '[REDACTED_SECRET]', max_tokens: 10 })
  })

  it('a replacement with JSON-special characters keeps the document valid', () => {
    const r = new Redactor({ builtin: true, rules: [{ pattern: 'x+', replacement: '"\\\n' }] })
    expect(JSON.parse(r.json(JSON.stringify({ a: 'xxx "quoted"' })))).toEqual({ a: '"\\\n "quoted"' })
  })

  it('withholds what is nested too deep instead of failing', () => {
    let deep: unknown = 'leaf'
    for (let i = 0; i < 1000; i++) deep = [deep]
    expect(() => JSON.parse(redactor().json(JSON.stringify(deep)))).not.toThrow()
  })
})

describe('media', () => {
  const png = Buffer.alloc(3000, 7).toString('base64')
  const pdf = Buffer.alloc(6000, 9).toString('base64')
  const anthropicMessages = JSON.stringify([
    {
      role: 'user',
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
        { type: 'text', text: 'what is this?' },
      ],
    },
  ])
  const openaiMessages = JSON.stringify([
    {
      role: 'user',
      content: [
        { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${png}` } },
        { type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
        { type: 'file', file: { file_data: pdf } },
      ],
    },
  ])

  it('is not stored by default: a placeholder with type and size', () => {
    const a = JSON.parse(redactor().json(anthropicMessages))
    expect(a[0].content[0].source).toEqual({ type: 'base64', media_type: 'image/png', data: '[media not stored: image/png, 3000 bytes]' })
    expect(a[0].content[1].source.data).toBe('[media not stored: application/pdf, 6000 bytes]')
    expect(a[0].content[2].text).toBe('what is this?')
    const o = JSON.parse(redactor().json(openaiMessages))
    expect(o[0].content[0].image_url.url).toBe('[media not stored: image/jpeg, 3000 bytes]')
    expect(o[0].content[1].file).toEqual({ filename: 'a.pdf', file_data: '[media not stored: application/pdf, 6000 bytes]' })
    expect(o[0].content[2].file.file_data).toBe('[media not stored: application/pdf, 6000 bytes]')
  })

  it('is stored with conversations.store_media', () => {
    const config = loadConfig({ file: '/nonexistent.yaml', env: {}, overrides: { conversations: { store_media: true }, jwt: { secret: 'x'.repeat(40) } } })
    const r = Redactor.fromConfig(config)
    expect(JSON.parse(r.json(anthropicMessages))[0].content[0].source.data).toBe(png)
    expect(JSON.parse(r.json(openaiMessages))[0].content[0].image_url.url).toBe(`data:image/jpeg;base64,${png}`)
    const byDefault = Redactor.fromConfig(loadConfig({ file: '/nonexistent.yaml', env: {}, overrides: { jwt: { secret: 'x'.repeat(40) } } }))
    expect(byDefault.json(anthropicMessages)).not.toContain(png)
  })
})
