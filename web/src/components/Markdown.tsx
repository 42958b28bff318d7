import { isValidElement, memo, useEffect, useReducer, useRef, type ComponentProps, type ReactNode } from 'react'
import ReactMarkdown, { type Components, type Options } from 'react-markdown'
import remarkGfm from 'remark-gfm'
import remarkMath from 'remark-math'
import { hasCode, hasMath, normaliseMath } from '../lib/markdown'
import { CopyButton } from './CopyButton'

// Markdown is rendered by react-markdown into React elements: raw HTML in a message is shown as text,
// never injected (no rehype-raw), and link URLs pass react-markdown's safe-protocol filter.
// KaTeX and highlight.js are large: each is loaded (once, as its own chunk) when a message needs it.

type PluggableList = NonNullable<Options['rehypePlugins']>
type Plugin = PluggableList[number]
const rich: { math: Plugin | null; code: Plugin | null } = { math: null, code: null }
const pending: { math?: Promise<void>; code?: Promise<void> } = {}
const listeners = new Set<() => void>()

// Two separate import() sites (not one conditional): Vite attaches each chunk's CSS (KaTeX's) to its own site.
function loadMath(): Promise<void> {
  return import('../lib/mathPlugin').then((m) => {
    rich.math = [m.default, { throwOnError: false, strict: 'ignore' }]
  })
}

function loadCode(): Promise<void> {
  return import('../lib/highlightPlugin').then((m) => {
    rich.code = [m.default, { detect: false }]
  })
}

function load(kind: 'math' | 'code'): void {
  if (rich[kind] || pending[kind]) return
  pending[kind] = (kind === 'math' ? loadMath() : loadCode()).then(
    () => listeners.forEach((notify) => notify()),
    () => {
      pending[kind] = undefined // offline: plain rendering now, another try with the next message
    },
  )
}

function useRichPlugins(text: string): PluggableList {
  const [, rerender] = useReducer((n: number) => n + 1, 0)
  const needsMath = hasMath(text)
  const needsCode = hasCode(text)
  useEffect(() => {
    if ((needsMath && !rich.math) || (needsCode && !rich.code)) {
      listeners.add(rerender)
      if (needsMath) load('math')
      if (needsCode) load('code')
      return () => void listeners.delete(rerender)
    }
  }, [needsMath, needsCode])
  const plugins: PluggableList = []
  if (needsMath && rich.math) plugins.push(rich.math)
  if (needsCode && rich.code) plugins.push(rich.code)
  return plugins
}

function languageOf(children: ReactNode): string | null {
  if (!isValidElement(children)) return null
  const className = (children.props as { className?: string }).className ?? ''
  const match = /language-([\w+#.-]+)/.exec(className)
  return match ? match[1] : null
}

function CodeBlock({ children, node: _node, ...rest }: ComponentProps<'pre'> & { node?: unknown }) {
  const ref = useRef<HTMLPreElement>(null)
  const language = languageOf(children)
  return (
    <div className="code-block" data-testid="code-block">
      <div className="code-head">
        <span>{language ?? 'code'}</span>
        <CopyButton
          label="Copy code"
          testId="copy-code"
          getText={() => ref.current?.textContent ?? ''}
          className="code-copy"
        />
      </div>
      <pre ref={ref} {...rest}>
        {children}
      </pre>
    </div>
  )
}

const components: Components = {
  pre: CodeBlock,
  a: ({ node: _node, children, ...rest }) => (
    <a {...rest} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
  table: ({ node: _node, children, ...rest }) => (
    <div className="table-wrap">
      <table {...rest}>{children}</table>
    </div>
  ),
  img: ({ node: _node, alt, src }) =>
    // Images from a model's answer are not loaded (tracking pixels, mixed content): show a link.
    typeof src === 'string' && src ? (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        {alt || src}
      </a>
    ) : null,
}

const remarkPlugins: PluggableList = [remarkGfm, [remarkMath, { singleDollarTextMath: false }]]

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const rehypePlugins = useRichPlugins(text)
  return (
    <div className="md">
      <ReactMarkdown remarkPlugins={remarkPlugins} rehypePlugins={rehypePlugins} components={components}>
        {normaliseMath(text)}
      </ReactMarkdown>
    </div>
  )
})
