import { Highlight, type PrismTheme } from 'prism-react-renderer'
import { useDarkScheme } from '../lib/theme.ts'

// GitHub's default light and dark palettes: every token colour passes WCAG AA on its background.
const light: PrismTheme = {
  plain: { color: '#24292f', backgroundColor: '#f6f8fa' },
  styles: [
    { types: ['comment', 'prolog', 'doctype', 'cdata'], style: { color: '#57606a', fontStyle: 'italic' } },
    { types: ['keyword', 'selector', 'important', 'atrule', 'deleted'], style: { color: '#cf222e' } },
    { types: ['string', 'char', 'attr-value', 'regex', 'inserted'], style: { color: '#0a3069' } },
    { types: ['number', 'boolean', 'constant', 'symbol', 'property', 'tag', 'attr-name', 'variable'], style: { color: '#0550ae' } },
    { types: ['function', 'class-name', 'builtin'], style: { color: '#8250df' } },
    { types: ['punctuation', 'operator'], style: { color: '#24292f' } },
  ],
}
const dark: PrismTheme = {
  plain: { color: '#e6edf3', backgroundColor: '#11151b' },
  styles: [
    { types: ['comment', 'prolog', 'doctype', 'cdata'], style: { color: '#8b949e', fontStyle: 'italic' } },
    { types: ['keyword', 'selector', 'important', 'atrule', 'deleted'], style: { color: '#ff7b72' } },
    { types: ['string', 'char', 'attr-value', 'regex', 'inserted'], style: { color: '#a5d6ff' } },
    { types: ['number', 'boolean', 'constant', 'symbol', 'property', 'tag', 'attr-name', 'variable'], style: { color: '#79c0ff' } },
    { types: ['function', 'class-name', 'builtin'], style: { color: '#d2a8ff' } },
    { types: ['punctuation', 'operator'], style: { color: '#e6edf3' } },
  ],
}

const ALIASES: Record<string, string> = { js: 'javascript', ts: 'typescript', sh: 'bash', shell: 'bash', zsh: 'bash', py: 'python', yml: 'yaml', 'c++': 'cpp', golang: 'go', rs: 'rust', html: 'markup', xml: 'markup' }

export default function Highlighted({ code, language, label }: { code: string; language: string; label: string }) {
  const theme = useDarkScheme() ? dark : light
  const lang = ALIASES[language.toLowerCase()] ?? language.toLowerCase()
  return (
    <Highlight code={code} language={lang} theme={theme}>
      {({ className, style, tokens, getLineProps, getTokenProps }) => (
        <pre className={className} style={style} tabIndex={0} aria-label={label}>
          <code>
            {/* inline lines with real newlines: selecting and copying the text keeps its line breaks */}
            {tokens.map((line, i) => (
              <span key={i} {...getLineProps({ line })}>
                {line.map((token, key) => (
                  <span key={key} {...getTokenProps({ token })} />
                ))}
                {i < tokens.length - 1 ? '\n' : ''}
              </span>
            ))}
          </code>
        </pre>
      )}
    </Highlight>
  )
}
