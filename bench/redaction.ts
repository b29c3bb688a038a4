// npx tsx bench/redaction.ts — what masking costs on the record path (after the response; no client waits).
// A 200 KB tool result (a source file pasted whole, as Claude Code sends it, with a few secrets in it),
// masked the way the record builder does: as a JSON field (parsed, every string scanned, rebuilt) and as
// plain text. Prints the median and p95 of repeated runs. No assertions.

import { Redactor } from '../src/record/redaction.ts'

const RUNS = Number(process.env.RUNS ?? 50)
const line = (i: number) =>
  i % 500 === 0
    ? `DB_PASSWORD=opensesame${i}\nconst url = "postgres://app:pw${i}@db:5432/app"\n`
    : `export function handler${i}(req: Request, token: string) { return fetch(\`/api/items/\${req.id}?page=${i}\`, { headers: { accept: 'application/json' } }) }\n`
let source = ''
for (let i = 0; source.length < 200 * 1024; i++) source += line(i)
const toolResults = JSON.stringify([{ tool_use_id: 'toolu_1', content: source }])
const redactor = new Redactor({ builtin: true, rules: [] })

function time(what: string, f: () => string) {
  f() // warm-up (regex compilation, JIT)
  const ms: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    f()
    ms.push(performance.now() - start)
  }
  ms.sort((a, b) => a - b)
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1)
  console.log(`${what.padEnd(34)} median ${at(0.5)} ms   p95 ${at(0.95)} ms   (${RUNS} runs)`)
}

console.log(`tool result: ${(toolResults.length / 1024).toFixed(0)} KB, ${source.split('\n').length} lines`)
time('as a JSON field (tool_results)', () => redactor.json(toolResults))
time('as plain text (a prompt)', () => redactor.text(source))
