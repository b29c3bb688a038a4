import { useQuery } from '@tanstack/react-query'
import { sessionQuery } from '../api/session.ts'
import { useI18n } from '../i18n/i18n.tsx'
import { CopyButton } from './CopyButton.tsx'

/** A trace id: a link into the trace viewer when the gateway names one (ui.trace_url), and a copy button. */
export function TraceLink({ traceId }: { traceId: string }) {
  const { t } = useI18n()
  const template = useQuery(sessionQuery).data?.trace_url
  return (
    <span className="mono">
      {template ? (
        <a href={traceHref(template, traceId)} target="_blank" rel="noreferrer noopener" title={t('conv.openTrace')}>
          {traceId}
        </a>
      ) : (
        traceId
      )}{' '}
      <CopyButton text={traceId} what={t('conv.trace')} />
    </span>
  )
}

export const traceHref = (template: string, traceId: string): string => template.replaceAll('{trace_id}', encodeURIComponent(traceId))
