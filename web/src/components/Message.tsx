import { isToolUIPart, type UIMessage } from 'ai'
import { memo, useEffect, useRef, useState, type KeyboardEvent } from 'react'
import { filesOf } from '../lib/attachments'
import { citations } from '../lib/citations'
import type { DocumentPartData } from '../lib/documents'
import type { Feedback } from '../lib/feedback'
import { onLinkClick } from '../lib/nav'
import { isEmptyAnswer } from '../lib/unanswered'
import { versionsOf } from '../lib/versions'
import { MessageFiles } from './Attachments'
import { CopyButton } from './CopyButton'
import { DocumentCard } from './DocumentCard'
import { FeedbackButtons } from './FeedbackButtons'
import { Markdown } from './Markdown'
import { Reasoning } from './Reasoning'
import { ToolCard } from './ToolCard'
import { VersionNav } from './VersionNav'

type Part = UIMessage['parts'][number]

export function messageText(message: UIMessage): string {
  return message.parts
    .filter((p): p is Extract<Part, { type: 'text' }> => p.type === 'text')
    .map((p) => p.text)
    .join('')
}

/** Citations: the `source-document` / `source-url` parts, as numbered chips linking to the page cited. */
function Sources({ parts }: { parts: Part[] }) {
  const cited = citations(parts)
  if (!cited.length) return null
  return (
    <ol className="sources" aria-label="Sources" data-testid="sources">
      {cited.map((c) => (
        <li key={c.n}>
          {c.href ? (
            <a href={c.href} title={c.title} data-testid="citation" {...(c.external
              ? { target: '_blank', rel: 'noopener noreferrer nofollow' }
              : { onClick: onLinkClick })}>
              <span className="source-n">{c.n}</span> {c.title}
            </a>
          ) : (
            <span title={c.title} data-testid="citation">
              <span className="source-n">{c.n}</span> {c.title}
            </span>
          )}
        </li>
      ))}
    </ol>
  )
}

function isDocumentPart(part: Part): part is Extract<Part, { type: `data-${string}` }> & { data: DocumentPartData } {
  if (part.type !== 'data-document') return false
  const data = (part as { data?: Partial<DocumentPartData> }).data
  return !!data && typeof data.documentId === 'string' && typeof data.name === 'string'
}

/** The documents a (user) message attached, as cards. */
export function documentsOf(message: UIMessage): DocumentPartData[] {
  return message.parts.filter(isDocumentPart).map((p) => p.data)
}

function Parts({ message }: { message: UIMessage }) {
  if (message.role === 'user') return <div className="user-text">{messageText(message)}</div>
  const shown = message.parts.filter((p) => p.type === 'text' || isToolUIPart(p) || p.type === 'reasoning')
  return (
    <>
      {shown.map((part, index) => {
        if (part.type === 'text') return <Markdown key={index} text={part.text} />
        if (part.type === 'reasoning') return <Reasoning key={index} part={part} />
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
  /** Shows another version of the message (none: its versions are shown but cannot be switched now). */
  onVersion?: (messageId: string) => void
  status?: string
  /** A shared chat's: no feedback buttons (the reader is not the owner). */
  readOnly?: boolean
}

export const Message = memo(function Message({ message, streaming, onRegenerate, onEdit, onVersion, status,
  readOnly }: Props) {
  const [editing, setEditing] = useState(false)
  const isUser = message.role === 'user'
  const documents = isUser ? documentsOf(message) : []
  const files = isUser ? filesOf(message.parts) : [] // the images it carries: thumbnails above the text
  const hasText = messageText(message).length > 0
  // An answer with nothing yet; a message that only attached documents (it has no bubble nor actions).
  const empty = isUser ? !hasText : isEmptyAnswer(message)
  const feedback = (message.metadata as { feedback?: Feedback } | undefined)?.feedback
  const versions = versionsOf(message)
  const actions = (
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
      {!isUser && !readOnly && status !== 'streaming' && <FeedbackButtons messageId={message.id} stored={feedback} />}
      {onRegenerate && (
        <button type="button" className="icon-button" data-testid="regenerate" aria-label="Regenerate answer"
          title="Regenerate answer" onClick={onRegenerate}>
          <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6">
            <path d="M16 10a6 6 0 1 1-2-4.5M16 3.5V7h-3.5" />
          </svg>
        </button>
      )}
    </div>
  )
  return (
    <article
      className={'msg ' + (isUser ? 'msg-user' : 'msg-assistant')}
      aria-label={isUser ? 'You said' : 'Parlor said'}
      data-message-id={message.id}
    >
      {files.length > 0 && <MessageFiles files={files} />}
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
        !isUser && streaming && (
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
      {documents.length > 0 && (
        <div className="msg-documents">
          {documents.map((d) => <DocumentCard key={d.documentId} data={d} />)}
        </div>
      )}
      {status === 'aborted' && !streaming && !empty && <p className="msg-note">Stopped.</p>}
      {!editing && !streaming && !empty && (versions ? (
        // its versions beside its actions, outside them (faded until hovered): always in sight, legible
        <div className="msg-footer">
          <VersionNav versions={versions} onSelect={(id) => onVersion?.(id)} disabled={!onVersion} />
          {actions}
        </div>
      ) : actions)}
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
