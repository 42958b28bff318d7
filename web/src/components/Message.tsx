import { isToolUIPart, type UIMessage } from 'ai'
import { memo, useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { CopyButton } from './CopyButton'
import { Markdown } from './Markdown'
import { ToolCard } from './ToolCard'

type Part = UIMessage['parts'][number]

export function messageText(message: UIMessage): string {
  return message.parts
    .filter((p): p is Extract<Part, { type: 'text' }> => p.type === 'text')
    .map((p) => p.text)
    .join('')
}

/**
 * Citations: the AI SDK's `source-url` / `source-document` parts, as numbered chips. Parlor does not
 * send them yet (the knowledge issue will); this is where they show up when it does.
 */
function Sources({ parts }: { parts: Part[] }) {
  const sources = parts.filter((p) => p.type === 'source-url' || p.type === 'source-document')
  if (!sources.length) return null
  return (
    <ol className="sources" aria-label="Sources" data-testid="sources">
      {sources.map((s, i) => (
        <li key={i}>
          {s.type === 'source-url' ? (
            <a href={s.url} target="_blank" rel="noopener noreferrer nofollow" title={s.title ?? s.url}>
              <span className="source-n">{i + 1}</span> {s.title ?? new URL(s.url, location.href).hostname}
            </a>
          ) : s.type === 'source-document' ? (
            <span title={s.filename ?? s.title}>
              <span className="source-n">{i + 1}</span> {s.title}
            </span>
          ) : null}
        </li>
      ))}
    </ol>
  )
}

function Parts({ message }: { message: UIMessage }) {
  if (message.role === 'user') return <div className="user-text">{messageText(message)}</div>
  const shown = message.parts.filter((p) => p.type === 'text' || isToolUIPart(p) || p.type === 'reasoning')
  return (
    <>
      {shown.map((part, index) => {
        if (part.type === 'text') return <Markdown key={index} text={part.text} />
        if (part.type === 'reasoning')
          return (
            <details key={index} className="reasoning">
              <summary>Reasoning</summary>
              <div className="reasoning-text">{part.text}</div>
            </details>
          )
        return <ToolCard key={(part as { toolCallId?: string }).toolCallId ?? index} part={part} />
      })}
      <Sources parts={message.parts} />
    </>
  )
}

type Props = {
  message: UIMessage
  streaming: boolean
  /** Shown on the last answer when nothing is running. */
  onRegenerate?: () => void
  /** Shown on the last user message when nothing is running. */
  onEdit?: (text: string) => void
  status?: string
}

export const Message = memo(function Message({ message, streaming, onRegenerate, onEdit, status }: Props) {
  const [editing, setEditing] = useState(false)
  const isUser = message.role === 'user'
  const empty = !isUser && message.parts.every((p) => p.type === 'step-start')
  return (
    <article
      className={'msg ' + (isUser ? 'msg-user' : 'msg-assistant')}
      aria-label={isUser ? 'You said' : 'Parlor said'}
      data-message-id={message.id}
    >
      {editing && onEdit ? (
        <EditBox
          initial={messageText(message)}
          onCancel={() => setEditing(false)}
          onSave={(text) => {
            setEditing(false)
            onEdit(text)
          }}
        />
      ) : empty ? (
        streaming && (
          <div className="thinking" role="status">
            Thinking…
          </div>
        )
      ) : (
        <div
          data-testid={`message-${message.role}`}
          aria-live={isUser ? undefined : 'polite'}
          aria-busy={streaming || undefined}
          className={isUser ? 'bubble-user' : 'bubble-assistant'}
        >
          <Parts message={message} />
        </div>
      )}
      {status === 'aborted' && !streaming && <p className="msg-note">Stopped.</p>}
      {!editing && !streaming && !empty && (
        <div className="msg-actions">
          <CopyButton
            label={isUser ? 'Copy message' : 'Copy answer'}
            testId="copy-message"
            getText={() => messageText(message)}
          />
          {onEdit && (
            <button type="button" className="icon-button" data-testid="edit-message" aria-label="Edit message"
              title="Edit message" onClick={() => setEditing(true)}>
              <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6">
                <path d="M13.5 3.5l3 3L7 16H4v-3z" />
              </svg>
            </button>
          )}
          {onRegenerate && (
            <button type="button" className="icon-button" data-testid="regenerate" aria-label="Regenerate answer"
              title="Regenerate answer" onClick={onRegenerate}>
              <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6">
                <path d="M16 10a6 6 0 1 1-2-4.5M16 3.5V7h-3.5" />
              </svg>
            </button>
          )}
        </div>
      )}
    </article>
  )
})

function EditBox({ initial, onSave, onCancel }: { initial: string; onSave: (t: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(initial)
  const ref = useRef<HTMLTextAreaElement>(null)
  useEffect(() => {
    const el = ref.current
    if (el) {
      el.focus()
      el.setSelectionRange(el.value.length, el.value.length)
    }
  }, [])
  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Escape') {
      e.preventDefault()
      e.stopPropagation()
      onCancel()
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault()
      if (text.trim()) onSave(text.trim())
    }
  }
  return (
    <form
      className="edit-box"
      onSubmit={(e) => {
        e.preventDefault()
        if (text.trim()) onSave(text.trim())
      }}
    >
      <label htmlFor="edit-input" className="sr-only">
        Edit your message
      </label>
      <textarea id="edit-input" data-testid="edit-input" ref={ref} value={text} rows={3}
        onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} />
      <div className="edit-actions">
        <button type="button" className="btn-secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn-primary" data-testid="edit-send" disabled={!text.trim()}>
          Send
        </button>
      </div>
    </form>
  )
}
