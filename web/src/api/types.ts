// Answers of the admin API (README "Admin API", /tmp web-api notes), as the app reads them.

export interface Token {
  id: string
  name: string
  mode: 'web' | 'api' | 'both'
  created_at: string
  expires_at: string
  revoked_at?: string
  last_used_at?: string
  is_valid: boolean
  enable_conversation_logging: boolean
  total_requests: number
  total_tokens_used: number
}

export interface CreatedToken {
  token: string
  id: string
  name: string
  mode: Token['mode']
  created_at: string
  expires_at: string
  enable_conversation_logging: boolean
}

export interface Account {
  id: string
  name: string
  is_active: boolean
  status: string
}

export interface RequestLog {
  id: string
  token_id: string
  account_id: string
  user_name: string
  mode: string
  model: string
  stream: boolean
  request_at: string
  response_at: string
  duration_ms: number
  ttft_ms: number | null
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  status_code: number
  success: boolean
  error_message: string
  conversation_id: string
  endpoint: string
  response_model: string
  error_type: string
  stop_reason: string
  cache_creation_tokens: number
  cache_read_tokens: number
  retries: number
  client_ip: string
  user_agent: string
  upstream_request_id: string
  has_content: boolean
  trace_id: string
  span_id: string
  conversation_content_id?: string
}

export interface LogPage {
  logs: RequestLog[]
  total: number
  page: number
  limit: number
}

export interface ConversationSummary {
  id: string
  request_log_id: string
  token_id: string
  model: string
  conversation_id: string
  created_at: string
  prompt_preview: string
  completion_preview: string
}

export interface ConversationPage {
  conversations: ConversationSummary[]
  total: number
  page: number
  limit: number
  query?: string | null
}

export interface Conversation {
  id: string
  request_log_id: string
  token_id: string
  conversation_id: string
  system_prompt: string
  messages_json: string
  prompt: string
  completion: string
  tool_calls: string
  tool_results: string
  created_at: string
  model: string
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
  duration_ms: number | null
}

export interface UsageStats {
  request_count: number
  success_count: number
  error_count: number
  total_prompt_tokens: number
  total_completion_tokens: number
  total_tokens: number
  total_cache_creation_tokens: number
  total_cache_read_tokens: number
  avg_duration_ms: number
  avg_ttft_ms: number
  p95_duration_ms?: number
  success_rate: number
}

export interface TrendBucket {
  bucket: string
  request_count: number
  success_count: number
  error_count: number
  total_tokens: number
}

export interface Usage {
  from_date: string
  to_date: string
  granularity: 'day' | 'hour'
  totals: UsageStats
  trend: TrendBucket[]
  by_model: Array<UsageStats & { model: string }>
  by_token: Array<UsageStats & { token_id: string; name: string }>
  by_account: Array<UsageStats & { account_id: string; name: string }>
}

export interface Realtime {
  date: string
  total_requests: number
  success_count: number
  error_count: number
  total_tokens: number
  avg_duration_ms: number
  success_rate: number
}

export interface Pipeline {
  exporter: {
    queueDepth: number
    queueBytes: number
    peakQueueDepth: number
    rowsWritten: number
    rowsSpooled: number
    rowsReplayed: number
    rowsDropped: number
    conversationRowsDropped: number
    spoolBytes: number
    lastBatchMs: number
  }
  rss_bytes: number
}
