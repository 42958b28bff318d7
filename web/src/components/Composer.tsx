import { ACCEPT } from '../lib/documents'
import { forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'

type Props = {
  busy: boolean
  disabled?: boolean
  onSend: (text: string) => void
  onStop: () => void
  /** Files chosen with the attach button (documents for this chat). */
  onAttach?: (files: File[]) => void
  /** Why attaching is not possible now (e.g. an answer is streaming), shown as the button's title. */
  attachBlocked?: string | null
  /** Whether the chat's model reads images (the attach button tells when it does not). */
  imagesAllowed?: boolean
}

const MAX_HEIGHT = 200

/**
 * The message box: Enter sends, Shift+Enter adds a line, Esc (anywhere) stops the answer.
 * The send and stop buttons share one slot of one size, so nothing moves when a turn starts or ends.
 * The attach button (left of the box) uploads documents into the chat.
 */
export const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer({ busy, disabled, onSend, onStop, onAttach, attachBlocked }, ref) {
  const [input, setInput] = useState('')
  const inner = useRef<HTMLTextAreaElement>(null)
  const picker = useRef<HTMLInputElement>(null)
  useImperativeHandle(ref, () => inner.current as HTMLTextAreaElement)

  // Grow with the text, up to a limit, then scroll.
  useLayoutEffect(() => {
    const el = inner.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`
  }, [input])

  function send() {
    const text = input.trim()
    if (!text || busy || disabled) return
    setInput('')
    onSend(text)
  }

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    send()
  }

  function handleKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      send()
    }
  }

  return (
    <form onSubmit={handleSubmit} className="composer-wrap">
      <div className="composer">
        {onAttach && (
          <>
            <input ref={picker} type="file" multiple accept={ACCEPT} hidden data-testid="file-input"
              onChange={(e) => {
                const files = Array.from(e.target.files ?? [])
                e.target.value = ''
                if (files.length) onAttach(files)
              }} />
            <button type="button" className="composer-attach" data-testid="attach-button"
              aria-label="Attach documents" title={attachBlocked ?? 'Attach documents (PDF, Markdown, text, HTML, DOCX)'}
              disabled={!!attachBlocked || disabled} onClick={() => picker.current?.click()}>
              <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round"><path d="M15.5 9.5l-5.8 5.8a3.5 3.5 0 0 1-5-5l6.4-6.4a2.3 2.3 0 0 1 3.3 3.3l-6.3 6.3a1.2 1.2 0 0 1-1.7-1.7l5.6-5.6" /></svg>
            </button>
          </>
        )}
        <label htmlFor="message-input" className="sr-only">
          Message
        </label>
        <textarea
          ref={inner}
          id="message-input"
          data-testid="message-input"
          rows={1}
          autoFocus
          placeholder="Message Parlor"
          aria-describedby="composer-hint"
          value={input}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={handleKeyDown}
          className="composer-input"
        />
        {busy ? (
          <button type="button" data-testid="stop-button" onClick={onStop} className="composer-button stop"
            aria-label="Stop generating" title="Stop (Esc)" aria-keyshortcuts="Escape">
            <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16"><rect x="5" y="5" width="10" height="10" rx="1.5" fill="currentColor" /></svg>
            <span className="composer-button-label">Stop</span>
          </button>
        ) : (
          <button type="submit" data-testid="send-button" disabled={!input.trim() || disabled}
            className="composer-button send" aria-label="Send message" title="Send (Enter)">
            <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="2"><path d="M10 16V4M5 9l5-5 5 5" /></svg>
            <span className="composer-button-label">Send</span>
          </button>
        )}
      </div>
      <p id="composer-hint" className="composer-hint">
        Enter to send · Shift+Enter for a new line · Esc to stop · drop files to attach
      </p>
    </form>
  )
})
