import { keepPreviousData, queryOptions } from '@tanstack/react-query'
import { api, type Query } from './client.ts'
import type { Account, Conversation, ConversationPage, LogPage, Pipeline, Realtime, RequestLog, Token, Usage } from './types.ts'

// One place for the admin API's reads, so pages share the cache (the token list feeds three pages).

export const tokensQuery = queryOptions({
  queryKey: ['tokens'],
  queryFn: ({ signal }) => api.get<{ tokens: Token[] }>('/api/token/list', undefined, signal).then((r) => r.tokens),
})

export const accountsQuery = queryOptions({
  queryKey: ['accounts'],
  queryFn: ({ signal }) => api.get<Account[]>('/api/account/list', undefined, signal),
  staleTime: 60_000,
})

/** Models seen in the last year, for the model filters. */
export const modelsQuery = queryOptions({
  queryKey: ['models'],
  queryFn: ({ signal }) => api.get<Usage>('/api/stats/usage', { days: 366 }, signal).then((u) => u.by_model.map((m) => m.model).filter(Boolean).sort()),
  staleTime: 60_000,
})

export const usageQueryOptions = (query: Query) =>
  queryOptions({
    queryKey: ['usage', query],
    queryFn: ({ signal }) => api.get<Usage>('/api/stats/usage', query, signal),
    placeholderData: keepPreviousData,
  })

export const realtimeQuery = queryOptions({
  queryKey: ['realtime'],
  queryFn: ({ signal }) => api.get<Realtime>('/api/stats/realtime', undefined, signal),
})

export const pipelineQuery = queryOptions({
  queryKey: ['pipeline'],
  queryFn: ({ signal }) => api.get<Pipeline>('/api/stats/pipeline', undefined, signal),
})

export const logsQueryOptions = (query: Query) =>
  queryOptions({
    queryKey: ['logs', query],
    queryFn: ({ signal }) => api.get<LogPage>('/api/logs/requests', query, signal),
    // the previous page stays on screen while the next one loads: no flashing table
    placeholderData: keepPreviousData,
  })

export const logQueryOptions = (id: string) =>
  queryOptions({
    queryKey: ['log', id],
    queryFn: ({ signal }) => api.get<RequestLog>(`/api/logs/requests/${encodeURIComponent(id)}`, undefined, signal),
    staleTime: 60_000,
  })

export const conversationsQueryOptions = (query: Query) =>
  queryOptions({
    queryKey: ['conversations', query],
    queryFn: ({ signal }) => api.get<ConversationPage>('/api/conversations', query, signal),
    placeholderData: keepPreviousData,
  })

export const conversationQueryOptions = (id: string) =>
  queryOptions({
    queryKey: ['conversation', id],
    queryFn: ({ signal }) => api.get<Conversation>(`/api/conversations/${encodeURIComponent(id)}`, undefined, signal),
    staleTime: 60_000,
  })
