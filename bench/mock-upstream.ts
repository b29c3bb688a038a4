// The mock Anthropic API of the test suite, in a process of its own for the bench.
//
// Non-streamed replies are the mock's default: a short echo of the last user message. For the keys in
// BENCH_MOCK_KEYS the reply is the same echo, and a *streamed* reply waits BENCH_MOCK_CHUNK_DELAY_MS
// between SSE events (chunkDelayMs only affects streams), like a model producing tokens.
//
// Prints `MOCK_URL=http://127.0.0.1:<port>` when ready; exits when its stdin closes (the bench is gone).

import { startMockAnthropic } from '../test/support/mock-anthropic.ts'

const mock = await startMockAnthropic()
const chunkDelayMs = Number(process.env.BENCH_MOCK_CHUNK_DELAY_MS ?? '10')
for (const key of (process.env.BENCH_MOCK_KEYS ?? '').split(',').filter(Boolean)) {
  mock.forKey(key, { kind: 'reply', chunkDelayMs })
}

// The mock keeps every request it saw for tests to inspect; over a load run that is hundreds of
// thousands of bodies, so the bench keeps none (they would only grow the heap and the GC pauses).
setInterval(() => (mock.requests.length = 0), 200).unref()

const stop = () => void mock.close().finally(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()

console.log(`MOCK_URL=${mock.url}`)
