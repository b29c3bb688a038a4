/**
 * Strings that go into a row must be well-formed UTF-16 (so well-formed UTF-8 on the wire): ClickHouse
 * refuses a JSONEachRow insert that carries a lone surrogate (`\ud800`), and with it the whole batch.
 * A client can send one (a JSON escape), and `.slice(0, n)` makes one by cutting an emoji in half.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g')

/** The text with every lone surrogate replaced by U+FFFD, as a UTF-8 encoder would. */
export function wellFormed(text: string): string {
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text
}

/** At most `max` UTF-16 units of the text, well-formed, never ending in half a character. */
export function cutText(text: string, max: number): string {
  let end = Math.min(text.length, max)
  const last = text.charCodeAt(end - 1)
  // A high surrogate whose partner is past the cut: leave the whole character out.
  if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--
  return wellFormed(text.slice(0, end))
}

/** At most `maxBytes` bytes of the text in UTF-8, cut between characters; the text itself when it fits. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text
  const bytes = Buffer.from(wellFormed(text), 'utf8')
  let end = Math.min(maxBytes, bytes.length)
  // Back off over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString('utf8')
}
