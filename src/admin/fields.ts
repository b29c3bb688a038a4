import { z } from 'zod'

// A high surrogate not followed by a low one, or a low one not preceded by a high one (code units, no u flag).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const wellFormed = (s: string) => !LONE_SURROGATE.test(s)

// Admin body fields that end up in rows, tokens, headers and the UI: refused at the door when they could
// not be stored, shown or sent as they are.

/** A name people read (UI, CSV exports, token claims): trimmed, 1–200 characters, well-formed, no control characters. */
export const displayName = z
  .string()
  .trim()
  .min(1, 'name is required')
  .max(200)
  .refine((s) => wellFormed(s), 'must be well-formed Unicode (a lone surrogate cannot be stored)')
  .refine((s) => !/\p{Cc}/u.test(s), 'must not contain control characters')

/** An id given in a body: the length and alphabet of anything the gateway ever issues, with room to spare. */
export const idField = z
  .string()
  .min(1, 'id is required')
  .max(200)
  .refine((s) => wellFormed(s), 'must be well-formed Unicode')

/** An upstream API key: it travels as an HTTP header, so printable ASCII without spaces. */
export const apiKeyField = z
  .string()
  .trim()
  .min(20, 'api_key does not look like an Anthropic API key')
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it is sent as an HTTP header)')
