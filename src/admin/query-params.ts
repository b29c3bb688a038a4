import { z } from 'zod'
import { GatewayError } from '../http/errors.ts'

// Query-string building blocks shared by the admin read APIs (logs, conversations, stats).
//
// A query string value is a string, or an array when the parameter is repeated (a 400: it must be given
// once). An empty value counts as absent (an empty filter field in a form). Unknown parameters are a 400 too:
// a misspelt filter must not silently return everything.

export const single = z.string({ error: 'must be given once' })

/** An optional parameter; '' is the same as absent. */
export const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional())

/** Rejects unknown parameters by name. */
export const queryObject = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown query parameter ${issue.keys.join(', ')}` : undefined),
  })

/** An integer in [min, max]; anything else is a 400 that says the range. */
export const intParam = (min: number, max: number, rangeMessage = `must be an integer between ${min} and ${max}`) =>
  single
    .regex(/^-?\d{1,16}$/, rangeMessage)
    .transform(Number)
    .pipe(z.number().int().min(min, rangeMessage).max(max, rangeMessage))

/** Ids of tokens, accounts and models: printable, no quotes, spaces or SQL punctuation. */
const ID_CHARS = /^[A-Za-z0-9._:@/+\-[\]]+$/
export const idParam = single
  .max(200, 'must be at most 200 characters')
  .regex(ID_CHARS, 'must be an id (letters, digits and . _ : @ / + - [ ] only)')

/** Free text compared for equality (user names): any characters, bounded length; always a bound parameter. */
export const textParam = single.max(200, 'must be at most 200 characters')

export const enumParam = <const T extends readonly [string, ...string[]]>(values: T) =>
  single.pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }))

const TRUE = new Set(['true', '1', 't', 'TRUE', 'True', 'T'])
const FALSE = new Set(['false', '0', 'f', 'FALSE', 'False', 'F'])
export const boolParam = single.transform((s, ctx) => {
  if (TRUE.has(s)) return true
  if (FALSE.has(s)) return false
  ctx.addIssue({ code: 'custom', message: 'must be true or false' })
  return z.NEVER
})

export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** A path id that must be a UUID (400 otherwise, before any query). */
export function uuidParam(value: string, what = 'id'): string {
  if (!UUID.test(value)) throw new GatewayError(400, `${what} must be a UUID`, { param: what })
  return value.toLowerCase()
}

// ── Time parameters ─────────────────────────────────────────────────────────────────────────────────────

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/
// RFC 3339 (a space may stand for the T; '+' arrives as a space when the client did not percent-encode it)
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+\- ]\d{2}:\d{2})$/
// what DateTime64(3) holds
const MIN_YEAR = 1900
const MAX_YEAR = 2299

/** 'YYYY-MM-DD' that names a real calendar day, or undefined. */
export function calendarDay(s: string, minYear = MIN_YEAR, maxYear = MAX_YEAR): Date | undefined {
  const m = DATE_ONLY.exec(s)
  if (!m) return undefined
  const year = Number(m[1])
  if (year < minYear || year > maxYear) return undefined
  const at = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3])))
  return at.toISOString().slice(0, 10) === s ? at : undefined
}

export interface Instant {
  at: Date
  /** given as YYYY-MM-DD: as an upper bound it means the whole day */
  dateOnly: boolean
}

/** RFC 3339 or YYYY-MM-DD (a UTC day). */
export const instantParam = single.transform((s, ctx): Instant => {
  const day = calendarDay(s)
  if (day) return { at: day, dateOnly: true }
  const m = DATE_TIME.exec(s)
  if (m && calendarDay(m[1]!) && Number(m[2]) <= 23 && Number(m[3]) <= 59 && Number(m[4]) <= 59) {
    const offset = m[6]!.toUpperCase() === 'Z' ? 'Z' : `${m[6]!.startsWith('-') ? '-' : '+'}${m[6]!.slice(1)}`
    const offsetOk = offset === 'Z' || (Number(offset.slice(1, 3)) <= 23 && Number(offset.slice(4, 6)) <= 59)
    const at = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}${(m[5] ?? '').slice(0, 4)}${offset}`)
    if (offsetOk && !Number.isNaN(at.getTime())) {
      const year = at.getUTCFullYear()
      if (year >= MIN_YEAR && year <= MAX_YEAR) return { at, dateOnly: false }
    }
  }
  ctx.addIssue({ code: 'custom', message: 'must be an RFC 3339 time (2025-01-31T12:00:00Z) or a date (2025-01-31)' })
  return z.NEVER
})

/** from/to and the Go API's from_date/to_date. */
export const timeRangeShape = {
  from: optional(instantParam),
  to: optional(instantParam),
  from_date: optional(instantParam),
  to_date: optional(instantParam),
}

/**
 * The half-open range [from, before) of from/to: `to` is inclusive — a whole day when it is a date, to the
 * millisecond when it is a time.
 */
export function timeRange(q: { from?: Instant | undefined; to?: Instant | undefined; from_date?: Instant | undefined; to_date?: Instant | undefined }): {
  from?: Date
  before?: Date
} {
  if (q.from && q.from_date) throw new GatewayError(400, 'give from or from_date, not both', { param: 'from_date' })
  if (q.to && q.to_date) throw new GatewayError(400, 'give to or to_date, not both', { param: 'to_date' })
  const from = q.from ?? q.from_date
  const to = q.to ?? q.to_date
  const range: { from?: Date; before?: Date } = {}
  if (from) range.from = from.at
  if (to) range.before = new Date(to.at.getTime() + (to.dateOnly ? 86_400_000 : 1))
  if (range.from && range.before && range.from.getTime() >= range.before.getTime()) {
    throw new GatewayError(400, 'from must not be after to', { param: 'from' })
  }
  return range
}

// ── Paging ──────────────────────────────────────────────────────────────────────────────────────────────

export const MAX_LIMIT = 1000
export const MAX_PAGE = 10_000_000
export const pagingShape = {
  page: optional(intParam(0, MAX_PAGE, `must be an integer from 0 to ${MAX_PAGE} (pages count from 0)`)),
  limit: optional(intParam(1, MAX_LIMIT)),
}
