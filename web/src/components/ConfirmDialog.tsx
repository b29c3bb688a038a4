import * as AlertDialog from '@radix-ui/react-alert-dialog'
import { useState, type ReactNode } from 'react'
import { useI18n } from '../i18n/i18n.tsx'

interface Props {
  /** the trigger's and the confirming button's name, e.g. "Revoke" */
  action: string
  title: string
  description: ReactNode
  onConfirm: () => Promise<unknown> | void
  triggerLabel?: string
  triggerClassName?: string
}

/** A destructive action behind an alertdialog; Cancel has the focus first, Esc cancels. */
export function ConfirmDialog({ action, title, description, onConfirm, triggerLabel, triggerClassName }: Props) {
  const { t } = useI18n()
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        setOpen(next)
        setError(undefined)
      }}
    >
      <AlertDialog.Trigger asChild>
        <button type="button" className={triggerClassName ?? 'button button-danger button-small'} aria-label={triggerLabel}>
          {action}
        </button>
      </AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="dialog-overlay" />
        <AlertDialog.Content className="dialog">
          <AlertDialog.Title className="dialog-title">{title}</AlertDialog.Title>
          <AlertDialog.Description className="dialog-text">{description}</AlertDialog.Description>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          <div className="dialog-actions">
            <AlertDialog.Cancel asChild>
              <button type="button" className="button">
                {t('common.cancel')}
              </button>
            </AlertDialog.Cancel>
            <button
              type="button"
              className="button button-danger"
              disabled={busy}
              onClick={async () => {
                setBusy(true)
                try {
                  await onConfirm()
                  setOpen(false)
                } catch (e) {
                  setError(e instanceof Error ? e.message : String(e))
                } finally {
                  setBusy(false)
                }
              }}
            >
              {action}
            </button>
          </div>
        </AlertDialog.Content>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  )
}
