import { useState, type ReactNode } from 'react'
import { useI18n } from '../i18n/i18n.tsx'
import { blockText, prettyJson, splitFences, type Block, type Message } from '../lib/conversation.ts'
import { CodeBlock } from './CodeBlock.tsx'
import { CopyButton } from './CopyButton.tsx'

/** Text with its code fences highlighted; prose keeps its line breaks exactly (no Markdown reflow). */
export function RichText({ text }: { text: string }) {
  return (
    <>
      {splitFences(text).map((s, i) =>
        s.kind === 'code' ? <CodeBlock key={i} code={s.code} {...(s.language ? { language: s.language } : {})} /> : <p key={i} className="text">{s.text}</p>,
      )}
    </>
  )
}

function Disclosure({ label, children, initiallyOpen = false }: { label: string; children: ReactNode; initiallyOpen?: boolean }) {
  const [open, setOpen] = useState(initiallyOpen)
  return (
    <div>
      <button type="button" className="disclosure" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span aria-hidden="true">{open ? '▾' : '▸'}</span> {label}
      </button>
      {open && <div className="thinking">{children}</div>}
    </div>
  )
}

function BlockView({ block }: { block: Block }) {
  const { t } = useI18n()
  const copy = (what: string) => <CopyButton text={blockText(block)} what={what} />
  switch (block.kind) {
    case 'text':
      return (
        <div className="block block-text">
          <span className="copy-corner">{copy(t('conv.block'))}</span>
          <RichText text={block.text} />
        </div>
      )
    case 'thinking':
      return (
        <div className="block">
          {block.redacted ? (
            <p className="thinking">{t('conv.redactedThinking')}</p>
          ) : (
            <div className="block-head">
              <Disclosure label={t('conv.thinking')}>
                <p className="text">{block.text}</p>
              </Disclosure>
              {copy(t('conv.thinking'))}
            </div>
          )}
        </div>
      )
    case 'tool_call': {
      const title = t('conv.toolCall', { n: block.n, name: block.name })
      return (
        <section className="block card" aria-label={title}>
          <p className="card-title">
            {title} <span className="muted mono small">{block.id}</span>
          </p>
          <CodeBlock code={prettyJson(block.input)} language="json" label={`${block.name} input`} />
        </section>
      )
    }
    case 'tool_result': {
      const title = `${block.isError ? t('conv.toolError') : t('conv.toolResult')} ${block.toolUseId ? t('conv.forCall', { id: block.toolUseId }) : ''}`.trim()
      const pretty = prettyJson(block.content)
      return (
        <section className={`block card ${block.isError ? 'card-error' : ''}`} aria-label={title}>
          <p className="card-title">{title}</p>
          {pretty !== block.content ? (
            <CodeBlock code={pretty} language="json" label={t('conv.toolResult')} />
          ) : (
            <>
              <div className="block-text">
                <span className="copy-corner">{copy(t('conv.toolResult'))}</span>
                <RichText text={block.content} />
              </div>
            </>
          )}
        </section>
      )
    }
    case 'image':
      return (
        <figure className="block">
          {block.src ? (
            <img className="stored-image" src={block.src} alt={`${t('conv.image')} (${block.mediaType ?? ''})`} loading="lazy" />
          ) : block.url ? (
            <a href={block.url} target="_blank" rel="noopener noreferrer nofollow">
              {t('conv.image')}: {block.url}
            </a>
          ) : (
            <p className="media-note">
              {t('conv.image')}: {block.note ?? block.mediaType ?? ''} — {t('conv.mediaNotStored')}
            </p>
          )}
        </figure>
      )
    case 'document':
      return (
        <p className="block media-note">
          {t('conv.document')}
          {block.name ? ` “${block.name}”` : ''}: {block.note ?? block.mediaType ?? ''}
          {block.note?.startsWith('[media not stored') ? ` — ${t('conv.mediaNotStored')}` : ''}
        </p>
      )
  }
}

export function MessageView({ message }: { message: Message }) {
  const { t } = useI18n()
  const role = message.answer ? t('conv.answer') : t(`conv.role.${message.role}`)
  return (
    <article className={`message message-${message.role}`} aria-label={role}>
      <div className="message-head">
        <span className="role">{role}</span>
      </div>
      {message.blocks.map((block, i) => (
        <BlockView key={i} block={block} />
      ))}
    </article>
  )
}
