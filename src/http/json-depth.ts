/**
 * How deep a JSON document may nest. Real requests stay far below (messages, content blocks and tool schemas
 * nest a few dozen levels at most); code that walks parsed bodies recursively (JSON.stringify, schema
 * validation, content capture and redaction) runs out of stack some thousands of levels down, which would
 * be a 500 — or worse — instead of a 400. serde_json's default is 128; this is twice that.
 */
export const MAX_JSON_DEPTH = 256

const QUOTE = 0x22
const BACKSLASH = 0x5c
const [OPEN_ARRAY, OPEN_OBJECT, CLOSE_ARRAY, CLOSE_OBJECT] = [0x5b, 0x7b, 0x5d, 0x7d]

/**
 * Whether a JSON text nests deeper than `max`, found in one pass over its bytes before anything parses it.
 * Strings are skipped whole with a native search for their closing quote (brackets in them are text), and
 * UTF-8 continuation bytes never look like ASCII.
 */
export function nestsDeeperThan(json: Uint8Array, max: number): boolean {
  let depth = 0
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!
    if (c === QUOTE) i = closingQuote(json, i)
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--
  }
  return false
}

/** The index of the quote that ends the string opened at `open` (one not escaped by a backslash). */
function closingQuote(json: Uint8Array, open: number): number {
  for (let i = json.indexOf(QUOTE, open + 1); i !== -1; i = json.indexOf(QUOTE, i + 1)) {
    let backslashes = 0
    while (json[i - 1 - backslashes] === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return i
  }
  return json.length
}
