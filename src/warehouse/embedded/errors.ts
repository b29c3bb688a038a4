/**
 * Errors in ClickHouse's own shape ("Code: 60. DB::Exception: … (UNKNOWN_TABLE)"), so that both the
 * direct client (parseError) and HTTP callers read embedded-engine errors exactly as server errors.
 */

// Same pattern as @clickhouse/client's parseError: the innermost `Code: N … Exception: … (TYPE)`.
const ERROR_RE = /(?:Code|Error): (\d+).*Exception: (.+?)\(((?=[A-Z0-9_]*[A-Z]{3})[A-Z0-9_]+)\)/s

export const ErrorCodes = {
  SYNTAX_ERROR: { code: 62, type: 'SYNTAX_ERROR' },
  BAD_ARGUMENTS: { code: 36, type: 'BAD_ARGUMENTS' },
  TOO_MANY_SIMULTANEOUS_QUERIES: { code: 202, type: 'TOO_MANY_SIMULTANEOUS_QUERIES' },
  NOT_IMPLEMENTED: { code: 48, type: 'NOT_IMPLEMENTED' },
  READONLY: { code: 164, type: 'READONLY' },
  REQUIRED_PASSWORD: { code: 194, type: 'REQUIRED_PASSWORD' },
  QUERY_IS_TOO_LARGE: { code: 229, type: 'QUERY_IS_TOO_LARGE' },
  ABORTED: { code: 236, type: 'ABORTED' },
  INTO_OUTFILE_NOT_ALLOWED: { code: 358, type: 'INTO_OUTFILE_NOT_ALLOWED' },
  QUERY_WAS_CANCELLED: { code: 394, type: 'QUERY_WAS_CANCELLED' },
  ACCESS_DENIED: { code: 497, type: 'ACCESS_DENIED' },
  AUTHENTICATION_FAILED: { code: 516, type: 'AUTHENTICATION_FAILED' },
  UNSUPPORTED_MEDIA_TYPE: { code: 779, type: 'UNSUPPORTED_MEDIA_TYPE' },
  STD_EXCEPTION: { code: 1001, type: 'STD_EXCEPTION' },
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** An Error whose message is a ClickHouse exception text. */
export function clickhouseError(which: ErrorCode, text: string): Error {
  return new Error(`Code: ${which.code}. DB::Exception: ${text}. (${which.type})`)
}

export interface ExceptionInfo {
  code: number
  type: string
  /** the full text, in ClickHouse's shape even for errors that did not come from the engine */
  message: string
}

export function exceptionInfo(err: unknown): ExceptionInfo {
  const message = err instanceof Error ? err.message : String(err)
  const m = ERROR_RE.exec(message)
  if (m) return { code: Number(m[1]), type: m[3]!, message }
  const { code, type } = ErrorCodes.STD_EXCEPTION
  return { code, type, message: `Code: ${code}. DB::Exception: ${message}. (${type})` }
}

// ClickHouse's exceptionCodeToHTTPStatus (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp); codes checked
// against errorCodeToName() on engine 26.7.
const STATUS_BY_CODE = new Map<number, number>([
  [194, 401],
  ...[192, 193, 516, 512, 497].map((c) => [c, 403] as [number, number]),
  ...[36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62, 117, 53, 321].map(
    (c) => [c, 400] as [number, number],
  ),
  ...[60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511].map((c) => [c, 404] as [number, number]),
  [229, 413],
  [48, 501],
  [209, 503],
  [76, 503],
  [381, 411],
  [159, 408],
  [439, 503],
  [779, 415],
  // not in that table (a server answers 500); a turn that did not come is worth retrying, so 503
  [202, 503],
])

export function httpStatusFor(code: number): number {
  return STATUS_BY_CODE.get(code) ?? 500
}
