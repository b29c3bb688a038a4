import { TraceLink } from '../components/TraceLink.tsx'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { Link, useNavigate, useParams } from '@tanstack/react-router'
import { useVirtualizer } from '@tanstack/react-virtual'
import { useMemo, useRef, useState, type ReactNode } from 'react'
import { api } from '../api/client.ts'
import { conversationQueryOptions, logQueryOptions, tokensQuery } from '../api/queries.ts'
import type { Conversation, RequestLog } from '../api/types.ts'
import { StatusBadge } from '../components/Badges.tsx'
import { CodeBlock } from '../components/CodeBlock.tsx'
import { ConfirmDialog } from '../components/ConfirmDialog.tsx'
import { CopyButton } from '../components/CopyButton.tsx'
import { MessageView, RichText } from '../components/MessageView.tsx'
import { Empty, ErrorState, QueryState } from '../components/QueryState.tsx'
import { useI18n } from '../i18n/i18n.tsx'
import { readConversation, type Message } from '../lib/conversation.ts'
import { downloadText } from '../lib/download.ts'
import { formatDuration, formatNumber, formatTime } from '../lib/format.ts'
import { useTitle } from '../lib/use-title.ts'

/** Past this many messages the list is virtualized: only what is on screen is rendered. */
export const VIRTUALIZE_FROM = 60
const SYSTEM_PREVIEW_CHARS = 500

function SystemPrompt({ text }: { text: string }) {
  const { t } = useI18n()
  const long = text.length > SYSTEM_PREVIEW_CHARS
  const [open, setOpen] = useState(!long)
  return (
    <section className="message message-system system-prompt" aria-label={t('conv.system')}>
      <div className="message-head">
        <span className="role">{t('conv.system')}</span>
        <span className="toolbar">
          <CopyButton text={text} what={t('conv.system')} />
          {long && (
            <button type="button" className="disclosure" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? t('conv.showLess') : t('conv.showMore')}
            </button>
          )}
        </span>
      </div>
      {open ? <RichText text={text} /> : <p className="text">{`${text.slice(0, SYSTEM_PREVIEW_CHARS)}…`}</p>}
    </section>
  )
}

function VirtualMessages({ messages }: { messages: Message[] }) {
  const { t } = useI18n()
  const scroller = useRef<HTMLDivElement>(null)
  // a one-paragraph message is about this tall; the rows are measured as they render
  const virtualizer = useVirtualizer({ count: messages.length, getScrollElement: () => scroller.current, estimateSize: () => 110, overscan: 6 })
  // Home / End go to the first / last message: the browser's own End would stop at the estimated end, short of
  // the last message once the rendered rows turn out shorter than estimated
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return
    if (event.key !== 'Home' && event.key !== 'End') return
    if ((event.target as HTMLElement).closest('input, textarea, select, [contenteditable="true"]')) return
    event.preventDefault()
    if (event.key === 'End') virtualizer.scrollToIndex(messages.length - 1, { align: 'end' })
    else virtualizer.scrollToIndex(0, { align: 'start' })
  }
  return (
    <div ref={scroller} className="messages-scroller" tabIndex={0} role="region" aria-label={t('conv.messages', { n: messages.length })} onKeyDown={onKeyDown}>
      <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((item) => (
          <div
            key={item.key}
            data-index={item.index}
            ref={virtualizer.measureElement}
            style={{ position: 'absolute', top: 0, left: 0, width: '100%', transform: `translateY(${item.start}px)`, paddingBottom: '0.75rem' }}
          >
            <MessageView message={messages[item.index]!} />
          </div>
        ))}
      </div>
    </div>
  )
}

export function Messages({ messages }: { messages: Message[] }) {
  const { t } = useI18n()
  if (messages.length === 0) return <Empty>{t('conv.empty.messages')}</Empty>
  if (messages.length >= VIRTUALIZE_FROM) return <VirtualMessages messages={messages} />
  return (
    <div className="messages">
      {messages.map((m, i) => (
        <MessageView key={i} message={m} />
      ))}
    </div>
  )
}

/** The request's figures on one strip; `children` (its links) sit at the strip's end. */
function MetaStrip({ conversation: c, log, tokenName, children }: { conversation: Conversation; log?: RequestLog; tokenName?: string; children?: ReactNode }) {
  const { t, locale } = useI18n()
  const items: Array<[string, React.ReactNode]> = [
    [t('common.model'), c.model || log?.model],
    [t('common.time'), <span title={c.created_at}>{formatTime(c.created_at, locale)}</span>],
    [t('common.tokens'), t('conv.tokensInOut', { in: formatNumber(c.prompt_tokens ?? log?.prompt_tokens, locale), out: formatNumber(c.completion_tokens ?? log?.completion_tokens, locale) })],
  ]
  if (log && (log.cache_creation_tokens || log.cache_read_tokens)) {
    items.push([t('logs.cache'), t('conv.cache', { w: formatNumber(log.cache_creation_tokens, locale), r: formatNumber(log.cache_read_tokens, locale) })])
  }
  items.push([t('common.duration'), formatDuration(c.duration_ms ?? log?.duration_ms)])
  if (log) {
    items.push([t('conv.ttft'), formatDuration(log.ttft_ms)], [t('common.status'), <StatusBadge code={log.status_code} success={log.success} />])
  }
  items.push([t('common.token'), tokenName ?? log?.user_name ?? c.token_id])
  if (log?.user_agent) items.push([t('conv.userAgent'), log.user_agent])
  return (
    <div className="meta-strip">
      <dl className="meta-items">
        {items.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value ?? '—'}</dd>
          </div>
        ))}
      </dl>
      {children}
    </div>
  )
}

function ConversationView({ conversation }: { conversation: Conversation }) {
  const { t } = useI18n()
  useTitle(t('conv.detail'))
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const [view, setView] = useState<'formatted' | 'json'>('formatted')
  const log = useQuery({ ...logQueryOptions(conversation.request_log_id), enabled: Boolean(conversation.request_log_id) })
  const tokens = useQuery(tokensQuery)
  const read = useMemo(() => readConversation(conversation), [conversation])
  const json = useMemo(() => {
    let messages: unknown = conversation.messages_json
    try {
      messages = JSON.parse(conversation.messages_json)
    } catch {
      // kept as the stored text
    }
    return JSON.stringify({ ...conversation, messages_json: messages }, null, 2)
  }, [conversation])
  const tokenName = tokens.data?.find((x) => x.id === conversation.token_id)?.name

  return (
    <>
      <div className="page-head">
        <h1>{t('conv.detail')}</h1>
        <div className="toolbar">
          <div className="segmented" role="group" aria-label={t('conv.view')}>
            <button type="button" className="button" aria-pressed={view === 'formatted'} onClick={() => setView('formatted')}>
              {t('conv.formatted')}
            </button>
            <button type="button" className="button" aria-pressed={view === 'json'} onClick={() => setView('json')}>
              {t('conv.json')}
            </button>
          </div>
          <button type="button" className="button" onClick={() => downloadText(`conversation-${conversation.id}.json`, json)}>
            {t('conv.export')}
          </button>
          <ConfirmDialog
            action={t('conv.delete')}
            triggerClassName="button button-danger"
            title={t('conv.deleteTitle')}
            description={t('conv.deleteText')}
            onConfirm={async () => {
              await api.delete(`/api/conversations/${encodeURIComponent(conversation.id)}`)
              queryClient.removeQueries({ queryKey: ['conversation', conversation.id] })
              await queryClient.invalidateQueries({ queryKey: ['conversations'] })
              await navigate({ to: '/conversations' })
            }}
          />
        </div>
      </div>
      <MetaStrip conversation={conversation} {...(log.data ? { log: log.data } : {})} {...(tokenName ? { tokenName } : {})}>
        {(conversation.request_log_id || log.data?.trace_id) && (
          <p className="meta-links">
            {conversation.request_log_id && (
              <Link to="/requests/$requestId" params={{ requestId: conversation.request_log_id }}>
                {t('conv.requestRow')}
              </Link>
            )}
            {log.data?.trace_id && (
              <span>
                {t('conv.trace')}: <TraceLink traceId={log.data.trace_id} />
              </span>
            )}
          </p>
        )}
      </MetaStrip>
      {view === 'json' ? (
        <CodeBlock code={json} language="json" label="JSON" />
      ) : (
        <>
          {read.system && <SystemPrompt text={read.system} />}
          {read.unreadable && <CodeBlock code={read.unreadable} label="messages_json" />}
          <Messages messages={read.messages} />
        </>
      )}
    </>
  )
}

export default function ConversationDetailPage() {
  const { t } = useI18n()
  const { conversationId } = useParams({ strict: false }) as { conversationId: string }
  const conversation = useQuery(conversationQueryOptions(conversationId))
  // unknown or deleted: the page still says where the user is and how to get back
  if (conversation.isError && !conversation.data) {
    return (
      <>
        <h1>{t('conv.detail')}</h1>
        <ErrorState error={conversation.error} onRetry={() => void conversation.refetch()} />
        <p>
          <Link to="/conversations">{t('conv.title')}</Link>
        </p>
      </>
    )
  }
  return <QueryState query={conversation}>{(c) => <ConversationView conversation={c} />}</QueryState>
}
