import * as Switch from '@radix-ui/react-switch'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useId, useState } from 'react'
import { api } from '../api/client.ts'
import { tokensQuery } from '../api/queries.ts'
import type { Token } from '../api/types.ts'
import { useI18n } from '../i18n/i18n.tsx'
import { ConfirmDialog } from './ConfirmDialog.tsx'
import { errorText } from './QueryState.tsx'

/** The per-token privacy opt-in; named "Conversation logging", described by the token's name. */
export function LoggingSwitch({ token, showLabel = false }: { token: Token; showLabel?: boolean }) {
  const { t } = useI18n()
  const queryClient = useQueryClient()
  const id = useId()
  const [status, setStatus] = useState('')
  const mutation = useMutation({
    mutationFn: (on: boolean) => api.put(`/api/token/${encodeURIComponent(token.id)}/settings`, { enable_conversation_logging: on }),
    onMutate: async (on) => {
      await queryClient.cancelQueries({ queryKey: tokensQuery.queryKey })
      queryClient.setQueryData(tokensQuery.queryKey, (old) => old?.map((x) => (x.id === token.id ? { ...x, enable_conversation_logging: on } : x)))
    },
    onSuccess: (_, on) => setStatus(t(on ? 'tokens.loggingOn' : 'tokens.loggingOff', { name: token.name })),
    onError: (error) => setStatus(errorText(error, t)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: tokensQuery.queryKey }),
  })
  return (
    <span className="switch-row">
      <Switch.Root
        id={id}
        className="switch"
        checked={token.enable_conversation_logging}
        disabled={mutation.isPending}
        onCheckedChange={(on) => mutation.mutate(on)}
        aria-label={showLabel ? undefined : t('tokens.logging')}
        aria-describedby={`${id}-of`}
      >
        <Switch.Thumb className="switch-thumb" />
      </Switch.Root>
      {showLabel && <label htmlFor={id}>{t('tokens.logging')}</label>}
      <span id={`${id}-of`} className="sr-only">
        {token.name}
      </span>
      <span className="sr-only" role="status">
        {status}
      </span>
    </span>
  )
}

export function RevokeButton({ token, onRevoked }: { token: Token; onRevoked?: () => void }) {
  const { t } = useI18n()
  const queryClient = useQueryClient()
  return (
    <ConfirmDialog
      action={t('tokens.revoke')}
      title={t('tokens.revokeTitle', { name: token.name })}
      description={t('tokens.revokeText')}
      onConfirm={async () => {
        await api.post('/api/token/revoke', { id: token.id })
        await queryClient.invalidateQueries({ queryKey: tokensQuery.queryKey })
        onRevoked?.()
      }}
    />
  )
}
