import { useEffect, useRef, useState } from 'react'
import { useI18n } from '../i18n/i18n.tsx'

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text)
  // plain-HTTP origins have no clipboard API: the old selection-based copy still works there
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.style.position = 'fixed'
  area.style.opacity = '0'
  document.body.append(area)
  area.select()
  try {
    document.execCommand('copy')
  } finally {
    area.remove()
  }
}

/** A copy button named after what it copies; "Copied" is shown and announced for a moment. */
export function CopyButton({ text, what, className }: { text: string; what: string; className?: string }) {
  const { t } = useI18n()
  const [copied, setCopied] = useState(false)
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  useEffect(() => () => clearTimeout(timer.current), [])
  return (
    <button
      type="button"
      className={`button button-small ${className ?? ''}`}
      aria-label={t('common.copyWhat', { what })}
      onClick={async () => {
        await copyText(text)
        setCopied(true)
        clearTimeout(timer.current)
        timer.current = setTimeout(() => setCopied(false), 1200)
      }}
    >
      <span aria-hidden="true">{copied ? t('common.copied') : t('common.copy')}</span>
      <span className="sr-only" role="status">
        {copied ? t('common.copied') : ''}
      </span>
    </button>
  )
}
