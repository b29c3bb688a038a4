// Ready-to-paste client set-ups for a new token, pointed at the gateway the admin is looking at.

export type SnippetKind = 'openai' | 'anthropic' | 'claude-code'

export function snippet(kind: SnippetKind, origin: string, token: string): { language: 'ts' | 'bash'; code: string } {
  const base = origin.replace(/\/+$/, '')
  switch (kind) {
    case 'openai':
      return {
        language: 'ts',
        code: [
          `import OpenAI from 'openai'`,
          ``,
          `const openai = new OpenAI({`,
          `  baseURL: '${base}/v1',`,
          `  apiKey: '${token}',`,
          `})`,
          `const res = await openai.chat.completions.create({`,
          `  model: 'claude-sonnet-4-5',`,
          `  messages: [{ role: 'user', content: 'Hello' }],`,
          `})`,
        ].join('\n'),
      }
    case 'anthropic':
      return {
        language: 'ts',
        code: [
          `import Anthropic from '@anthropic-ai/sdk'`,
          ``,
          `const anthropic = new Anthropic({`,
          `  baseURL: '${base}',`,
          `  apiKey: '${token}',`,
          `})`,
          `const msg = await anthropic.messages.create({`,
          `  model: 'claude-sonnet-4-5',`,
          `  max_tokens: 1024,`,
          `  messages: [{ role: 'user', content: 'Hello' }],`,
          `})`,
        ].join('\n'),
      }
    case 'claude-code':
      return { language: 'bash', code: [`export ANTHROPIC_BASE_URL=${base}`, `export ANTHROPIC_AUTH_TOKEN=${token}`, `claude`].join('\n') }
  }
}
