// Durations in Go's syntax (what the Go ccproxy and its users wrote: "720h", "1h30m", "500ms")
// plus days ("30d"), which Go never accepted but people keep typing.
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y

/** Parses a duration into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim()
  if (s === '0') return 0
  let sign = 1
  let i = 0
  if (s[0] === '-' || s[0] === '+') {
    sign = s[0] === '-' ? -1 : 1
    i = 1
  }
  if (i >= s.length) return undefined
  let total = 0
  while (i < s.length) {
    PART.lastIndex = i
    const m = PART.exec(s)
    if (!m) return undefined
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    i = PART.lastIndex
  }
  return sign * Math.round(total)
}
