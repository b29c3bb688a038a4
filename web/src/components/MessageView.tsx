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

/**
 * One block of a message. Its Copy button always sits on the block's header line: the message's role line for
 * a leading text block, a "text" line for a later one, the title line of a tool card, the Thinking toggle's line
 * or the code block's caption.
 */
function BlockView({ block, copyInMessageHead = false }: { block: Block; copyInMessageHead?: boolean }) {
  const { t } = useI18n()
  const copy = (what: string, text = blockText(block)) => <CopyButton text={text} what={what} />
  switch (block.kind) {
    case 'text':
      return (
        <div className="block">
          {!copyInMessageHead && (
            <div className="block-head">
              <span className="block-label">{t('conv.block')}</span>
              {copy(t('conv.block'))}
            </div>
          )}
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
      const input = `${block.name} input`
      return (
        <section className="block card" aria-label={title}>
          <div className="block-head card-head">
            <p className="card-title">
              {title} <span className="muted mono small">{block.id}</span>
            </p>
            {copy(input)}
          </div>
          <CodeBlock code={prettyJson(block.input)} language="json" label={input} bare />
        </section>
      )
    }
    case 'tool_result': {
      const title = `${block.isError ? t('conv.toolError') : t('conv.toolResult')} ${block.toolUseId ? t('conv.forCall', { id: block.toolUseId }) : ''}`.trim()
      const pretty = prettyJson(block.content)
      return (
        <section className={`block card ${block.isError ? 'card-error' : ''}`} aria-label={title}>
          <div className="block-head card-head">
            <p className="card-title">{title}</p>
            {copy(t('conv.toolResult'), pretty)}
          </div>
          {pretty !== block.content ? <CodeBlock code={pretty} language="json" label={t('conv.toolResult')} bare /> : <RichText text={block.content} />}
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
  const lead = message.blocks[0]?.kind === 'text' ? message.blocks[0] : undefined
  return (
    <article className={`message message-${message.role}`} aria-label={role}>
      <div className="message-head">
        <span className="role">{role}</span>
        {lead && <CopyButton text={blockText(lead)} what={t('conv.block')} />}
      </div>
      {message.blocks.map((block, i) => (
        <BlockView key={i} block={block} copyInMessageHead={block === lead} />
      ))}
    </article>
  )
}
