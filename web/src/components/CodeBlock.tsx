import { lazy, Suspense } from 'react'
import { useI18n } from '../i18n/i18n.tsx'
import { CopyButton } from './CopyButton.tsx'

// Prism (via prism-react-renderer) loads with the first code block, on the pages that show code.
const Highlighted = lazy(() => import('./Highlighted.tsx'))

/** Blocks larger than this are shown plain: highlighting them costs more than it helps. */
export const HIGHLIGHT_MAX_CHARS = 20_000

export function CodeBlock({ code, language, label }: { code: string; language?: string; label?: string }) {
  const { t } = useI18n()
  const caption = label ?? language ?? t('conv.code')
  const plain = (
    <pre tabIndex={0} aria-label={caption}>
      <code>{code}</code>
    </pre>
  )
  return (
    <div className="code">
      <div className="code-head">
        <span>{caption}</span>
        <CopyButton text={code} what={caption} />
      </div>
      {language && code.length <= HIGHLIGHT_MAX_CHARS ? (
        <Suspense fallback={plain}>
          <Highlighted code={code} language={language} label={caption} />
        </Suspense>
      ) : (
        plain
      )}
    </div>
  )
}
