import { lazy, Suspense } from 'react'
import { useI18n } from '../i18n/i18n.tsx'
import { CopyButton } from './CopyButton.tsx'

// Prism (via prism-react-renderer) loads with the first code block, on the pages that show code.
const Highlighted = lazy(() => import('./Highlighted.tsx'))

/** Blocks larger than this are shown plain: highlighting them costs more than it helps. */
export const HIGHLIGHT_MAX_CHARS = 20_000

/**
 * `bare`: no caption line with its own Copy (a tool card has them on its title line).
 * `wrap`: long lines wrap instead of scrolling sideways (set-up snippets, whose token is one very long word).
 */
export function CodeBlock({ code, language, label, bare = false, wrap = false }: { code: string; language?: string; label?: string; bare?: boolean; wrap?: boolean }) {
  const { t } = useI18n()
  const caption = label ?? language ?? t('conv.code')
  const plain = (
    <pre tabIndex={0} aria-label={caption}>
      <code>{code}</code>
    </pre>
  )
  return (
    <div className={wrap ? 'code code-wrap' : 'code'}>
      {!bare && (
        <div className="code-head">
          <span>{caption}</span>
          <CopyButton text={code} what={caption} />
        </div>
      )}
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
