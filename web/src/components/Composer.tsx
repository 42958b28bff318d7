import type { FileUIPart } from 'ai'
import {
  forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState, type ClipboardEvent, type DragEvent, type FormEvent,
  type KeyboardEvent,
} from 'react'
import { ATTACH_ACCEPT, isImage, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, toFilePart } from '../lib/attachments'
import { ACCEPT } from '../lib/documents'
import { PendingFiles } from './Attachments'

type Props = {
  busy: boolean
  disabled?: boolean
  /** The message: its text, and the images it carries (AI SDK file parts, as data: URLs). */
  onSend: (text: string, files: FileUIPart[]) => void
  onStop: () => void
  /** Files attached that are not images (documents for this chat). */
  onAttach?: (files: File[]) => void
  /** Why attaching documents is not possible now (e.g. an answer is streaming). */
  attachBlocked?: string | null
  /** Whether the chosen model reads images (default true); when false images are refused here, saying why. */
  imagesAllowed?: boolean
}

/** What the chat gives the composer: focus, and files dropped anywhere on the chat. */
export type ComposerHandle = {
  focus: () => void
  attach: (files: File[]) => void
}

const MAX_HEIGHT = 200
const NO_IMAGES = 'This model can’t read images. Choose a model that can, or describe the image in words.'

/**
 * The message box: Enter sends, Shift+Enter adds a line, Esc (anywhere) stops the answer.
 * The send and stop buttons share one slot of one size, so nothing moves when a turn starts or ends.
 * The paperclip (left of the box), a paste or a drop attaches: images go with the message, shown as
 * previews until it is sent; other files are uploaded into the chat as documents.
 */
export const Composer = forwardRef<ComposerHandle, Props>(function Composer(
  { busy, disabled, onSend, onStop, onAttach, attachBlocked, imagesAllowed = true }, ref) {
  const [input, setInput] = useState('')
  const [pending, setPending] = useState<FileUIPart[]>([])
  const [notice, setNotice] = useState<string | null>(null)
  const inner = useRef<HTMLTextAreaElement>(null)
  const picker = useRef<HTMLInputElement>(null)

  async function attach(files: File[]) {
    const images = files.filter(isImage)
    const others = files.filter((f) => !isImage(f))
    if (others.length) onAttach?.(others)
    if (!images.length) return
    if (!imagesAllowed) return setNotice(NO_IMAGES)
    const tooBig = images.find((f) => f.size > MAX_ATTACHMENT_BYTES)
    if (tooBig) return setNotice(`“${tooBig.name}” is over ${MAX_ATTACHMENT_BYTES / 1_000_000} MB.`)
    if (pending.length + images.length > MAX_ATTACHMENTS)
      return setNotice(`A message can carry at most ${MAX_ATTACHMENTS} images.`)
    setNotice(null)
    try {
      const parts = await Promise.all(images.map(toFilePart))
      setPending((current) => [...current, ...parts])
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err))
    }
  }

  useImperativeHandle(ref, () => ({ focus: () => inner.current?.focus(), attach: (files) => void attach(files) }))

  // Grow with the text, up to a limit, then scroll.
  useLayoutEffect(() => {
    const el = inner.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`
  }, [input])

  const sendable = (input.trim() || pending.length > 0) && !disabled

  function send() {
    const text = input.trim()
    if (!sendable || busy) return
    setInput('')
    setPending([])
    setNotice(null)
    onSend(text, pending)
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

  function handlePaste(event: ClipboardEvent<HTMLTextAreaElement>) {
    const files = Array.from(event.clipboardData?.files ?? [])
    if (!files.length) return // plain text pastes as usual
    event.preventDefault()
    void attach(files)
  }

  function handleDrop(event: DragEvent<HTMLFormElement>) {
    const files = Array.from(event.dataTransfer?.files ?? [])
    if (!files.length) return
    event.preventDefault()
    event.stopPropagation() // the chat's own drop zone would take them again
    void attach(files)
  }

  const attachTitle = imagesAllowed
    ? 'Attach images (PNG, JPEG, GIF, WebP) or documents (PDF, Markdown, text, HTML, DOCX)'
    : 'This model can’t read images: attach documents (PDF, Markdown, text, HTML, DOCX)'
  return (
    <form onSubmit={handleSubmit} onDrop={handleDrop} onDragOver={(e) => e.preventDefault()} className="composer-wrap">
      <PendingFiles files={pending} onRemove={(index) => setPending((current) => current.filter((_, i) => i !== index))} />
      {notice && (
        <p role="alert" className="composer-notice" data-testid="composer-notice">
          {notice}
          <button type="button" className="link-button ml-2" onClick={() => setNotice(null)}>Dismiss</button>
        </p>
      )}
      <div className="composer">
        <input ref={picker} type="file" multiple accept={`${imagesAllowed ? ATTACH_ACCEPT + ',' : ''}${ACCEPT}`} hidden
          data-testid="file-input"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? [])
            e.target.value = ''
            if (files.length) void attach(files)
          }} />
        <button type="button" className="composer-attach" data-testid="attach-button"
          aria-label={imagesAllowed ? 'Attach images or documents' : 'Attach documents (this model can’t read images)'}
          title={attachBlocked ?? attachTitle} disabled={disabled} onClick={() => picker.current?.click()}>
          <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round"><path d="M15.5 9.5l-5.8 5.8a3.5 3.5 0 0 1-5-5l6.4-6.4a2.3 2.3 0 0 1 3.3 3.3l-6.3 6.3a1.2 1.2 0 0 1-1.7-1.7l5.6-5.6" /></svg>
        </button>
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
          onPaste={handlePaste}
          className="composer-input"
        />
        {busy ? (
          <button type="button" data-testid="stop-button" onClick={onStop} className="composer-button stop"
            aria-label="Stop generating" title="Stop (Esc)" aria-keyshortcuts="Escape">
            <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16"><rect x="5" y="5" width="10" height="10" rx="1.5" fill="currentColor" /></svg>
            <span className="composer-button-label">Stop</span>
          </button>
        ) : (
          <button type="submit" data-testid="send-button" disabled={!sendable}
            className="composer-button send" aria-label="Send message" title="Send (Enter)">
            <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="2"><path d="M10 16V4M5 9l5-5 5 5" /></svg>
            <span className="composer-button-label">Send</span>
          </button>
        )}
      </div>
      <p id="composer-hint" className="composer-hint">
        Enter to send · Shift+Enter for a new line · Esc to stop ·{' '}
        {imagesAllowed ? 'paste or drop images and files to attach' : 'drop files to attach (this model can’t read images)'}
      </p>
    </form>
  )
})
