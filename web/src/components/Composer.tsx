import { forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'

type Props = {
  busy: boolean
  disabled?: boolean
  onSend: (text: string) => void
  onStop: () => void
}

const MAX_HEIGHT = 200

/**
 * The message box: Enter sends, Shift+Enter adds a line, Esc (anywhere) stops the answer.
 * The send and stop buttons share one slot of one size, so nothing moves when a turn starts or ends.
 * (Document upload will sit beside the box once the knowledge issue lands.)
 */
export const Composer = forwardRef<HTMLTextAreaElement, Props>(function Composer({ busy, disabled, onSend, onStop }, ref) {
  const [input, setInput] = useState('')
  const inner = useRef<HTMLTextAreaElement>(null)
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
        Enter to send · Shift+Enter for a new line · Esc to stop
      </p>
    </form>
  )
})
