/**
 * Every error leaves in the caller's own dialect: the OpenAI error shape on OpenAI routes, Anthropic's on
 * Anthropic routes, `{"error": "…"}` on admin routes (the Go ccproxy's shape, which its UI reads). Each
 * route group's plugin declares its dialect (`speaks` in http.ts).
 */
export type Dialect = 'openai' | 'anthropic' | 'admin'

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly opts: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message)
  }
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  529: 'overloaded_error',
}

export function anthropicErrorType(status: number): string {
  return ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

export function openaiErrorType(status: number): string {
  return OPENAI_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

export function errorBody(dialect: Dialect, err: GatewayError): unknown {
  switch (dialect) {
    case 'anthropic':
      return { type: 'error', error: { type: err.opts.type ?? anthropicErrorType(err.status), message: err.message } }
    case 'openai':
      return {
        error: {
          message: err.message,
          type: err.opts.type ?? openaiErrorType(err.status),
          param: err.opts.param ?? null,
          code: err.opts.code ?? null,
        },
      }
    case 'admin':
      return { error: err.message }
  }
}
