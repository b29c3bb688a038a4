import * as Dialog from '@radix-ui/react-dialog'
import * as Switch from '@radix-ui/react-switch'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useId, useState, type FormEvent } from 'react'
import { api } from '../api/client.ts'
import { tokensQuery } from '../api/queries.ts'
import type { CreatedToken, Token } from '../api/types.ts'
import { useI18n } from '../i18n/i18n.tsx'
import { snippet, type SnippetKind } from '../lib/snippets.ts'
import { CodeBlock } from './CodeBlock.tsx'
import { CopyButton } from './CopyButton.tsx'
import { errorText } from './QueryState.tsx'

const EXPIRIES = ['7d', '30d', '90d', '365d'] as const
const SNIPPETS: ReadonlyArray<{ kind: SnippetKind; key: 'tokens.snippetOpenai' | 'tokens.snippetAnthropic' | 'tokens.snippetClaude' }> = [
  { kind: 'openai', key: 'tokens.snippetOpenai' },
  { kind: 'anthropic', key: 'tokens.snippetAnthropic' },
  { kind: 'claude-code', key: 'tokens.snippetClaude' },
]

/** The secret, shown this once, with a copy button and set-ups for the three kinds of client. */
export function CreatedSecret({ created, origin }: { created: CreatedToken; origin: string }) {
  const { t } = useI18n()
  const [tab, setTab] = useState<SnippetKind>('openai')
  const tabsId = useId()
  const current = snippet(tab, origin, created.token)
  const label = SNIPPETS.find((s) => s.kind === tab)!.key
  return (
    <div className="form-grid">
      <p className="notice" role="status">
        {t('tokens.secretOnce')}
      </p>
      <div>
        <div className="field-label">{t('tokens.secret')}</div>
        <div className="secret">
          <code data-testid="token-secret">{created.token}</code>
          <CopyButton text={created.token} what={t('tokens.secret')} />
        </div>
      </div>
      <div>
        <h3 className="section-title">{t('tokens.snippets')}</h3>
        <div role="tablist" aria-label={t('tokens.snippets')} className="tabs">
          {SNIPPETS.map((s) => (
            <button
              key={s.kind}
              type="button"
              role="tab"
              id={`${tabsId}-${s.kind}`}
              aria-selected={tab === s.kind}
              aria-controls={`${tabsId}-panel`}
              tabIndex={tab === s.kind ? 0 : -1}
              className="tab"
              onClick={() => setTab(s.kind)}
              onKeyDown={(e) => {
                if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return
                const i = SNIPPETS.findIndex((x) => x.kind === tab)
                const next = SNIPPETS[(i + (e.key === 'ArrowRight' ? 1 : SNIPPETS.length - 1)) % SNIPPETS.length]!
                setTab(next.kind)
                document.getElementById(`${tabsId}-${next.kind}`)?.focus()
              }}
            >
              {t(s.key)}
            </button>
          ))}
        </div>
        <div role="tabpanel" id={`${tabsId}-panel`} aria-labelledby={`${tabsId}-${tab}`}>
          <CodeBlock code={current.code} language={current.language} label={t(label)} wrap />
        </div>
      </div>
    </div>
  )
}

export function CreateTokenDialog() {
  const { t } = useI18n()
  const queryClient = useQueryClient()
  const [open, setOpen] = useState(false)
  const [name, setName] = useState('')
  const [mode, setMode] = useState<Token['mode']>('api')
  const [expiresIn, setExpiresIn] = useState<(typeof EXPIRIES)[number]>('30d')
  const [logging, setLogging] = useState(false)
  const [formError, setFormError] = useState<string>()
  const ids = useId()
  const create = useMutation({
    mutationFn: () => api.post<CreatedToken>('/api/token/generate', { name: name.trim(), mode, expires_in: expiresIn, enable_conversation_logging: logging }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: tokensQuery.queryKey }),
    onError: (error) => setFormError(errorText(error, t)),
  })
  const created = create.data

  function reset() {
    setName('')
    setMode('api')
    setExpiresIn('30d')
    setLogging(false)
    setFormError(undefined)
    create.reset()
  }

  function submit(event: FormEvent) {
    event.preventDefault()
    if (!name.trim()) return setFormError(t('tokens.nameRequired'))
    setFormError(undefined)
    create.mutate()
  }

  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        setOpen(next)
        if (!next) reset() // the secret is forgotten when the dialog closes
      }}
    >
      <Dialog.Trigger asChild>
        <button type="button" className="button button-primary">
          {t('tokens.create')}
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content
          className="dialog"
          // the secret is shown once: a stray click outside must not throw it away (Esc and the button still close)
          onInteractOutside={(e) => created && e.preventDefault()}
          aria-describedby={undefined}
        >
          <Dialog.Title className="dialog-title">{created ? t('tokens.secretTitle', { name: created.name }) : t('tokens.create')}</Dialog.Title>
          {created ? (
            <>
              <CreatedSecret created={created} origin={window.location.origin} />
              <div className="dialog-actions">
                <Dialog.Close asChild>
                  <button type="button" className="button button-primary">
                    {t('tokens.done')}
                  </button>
                </Dialog.Close>
              </div>
            </>
          ) : (
            <form onSubmit={submit} className="form-grid" noValidate>
              <div className="field">
                <label htmlFor={`${ids}-name`}>{t('common.name')}</label>
                <input id={`${ids}-name`} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
              </div>
              <div className="field">
                <label htmlFor={`${ids}-mode`}>{t('tokens.mode')}</label>
                <select id={`${ids}-mode`} value={mode} onChange={(e) => setMode(e.target.value as Token['mode'])}>
                  <option value="api">{t('tokens.modeApi')}</option>
                  <option value="both">{t('tokens.modeBoth')}</option>
                  <option value="web">{t('tokens.modeWeb')}</option>
                </select>
              </div>
              <div className="field">
                <label htmlFor={`${ids}-expiry`}>{t('tokens.expiry')}</label>
                <select id={`${ids}-expiry`} value={expiresIn} onChange={(e) => setExpiresIn(e.target.value as (typeof EXPIRIES)[number])}>
                  {EXPIRIES.map((e) => (
                    <option key={e} value={e}>
                      {e === '365d' ? t('tokens.year') : t('tokens.days', { n: e.slice(0, -1) })}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <span className="switch-row">
                  <Switch.Root id={`${ids}-logging`} className="switch" checked={logging} onCheckedChange={setLogging} aria-describedby={`${ids}-logging-text`}>
                    <Switch.Thumb className="switch-thumb" />
                  </Switch.Root>
                  <label htmlFor={`${ids}-logging`}>{t('tokens.logging')}</label>
                </span>
                <p id={`${ids}-logging-text`} className="muted small">
                  {t('tokens.loggingStatement')}
                </p>
              </div>
              {formError && (
                <p className="form-error" role="alert">
                  {formError}
                </p>
              )}
              <div className="dialog-actions">
                <Dialog.Close asChild>
                  <button type="button" className="button">
                    {t('common.cancel')}
                  </button>
                </Dialog.Close>
                <button type="submit" className="button button-primary" disabled={create.isPending}>
                  {create.isPending ? t('tokens.creating') : t('tokens.createSubmit')}
                </button>
              </div>
            </form>
          )}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  )
}
