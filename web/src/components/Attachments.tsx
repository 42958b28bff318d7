import type { FileUIPart } from 'ai'
import { useState } from 'react'
import { isImage, useFileUrl } from '../lib/attachments'
import { apiFetch } from '../lib/http'
import { useApiKey } from '../lib/session'
import { Lightbox } from './Lightbox'

function nameOf(file: FileUIPart): string {
  return file.filename || (isImage({ type: file.mediaType }) ? 'image' : 'document.pdf')
}

function PdfIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.6"><path d="M5 2.5h6.5L15 6v11.5H5zM11.5 2.5V6H15" /></svg>
  )
}

/** An image's thumbnail (loaded with the key when it is Parlor's URL); a click opens it large. */
function Thumbnail({ file }: { file: FileUIPart }) {
  const key = useApiKey()
  const src = useFileUrl(file.url, key)
  const [open, setOpen] = useState(false)
  const name = nameOf(file)
  return (
    <>
      <button type="button" className="attachment-thumb" data-testid="attachment-thumbnail"
        aria-label={`Open ${name}`} title={name} disabled={!src} onClick={() => setOpen(true)}>
        {src ? <img src={src} alt={name} /> : <span className="attachment-loading" aria-hidden="true" />}
      </button>
      {open && src && <Lightbox src={src} alt={name} onClose={() => setOpen(false)} />}
    </>
  )
}

/** A PDF as a chip; a click opens it in a new tab (fetched with the key: the route is authenticated). */
function PdfChip({ file }: { file: FileUIPart }) {
  const key = useApiKey()
  const name = nameOf(file)
  async function open() {
    const tab = window.open('', '_blank')
    const url = file.url.startsWith('data:') ? file.url
      : URL.createObjectURL(await (await apiFetch(file.url, key)).blob())
    if (tab) tab.location.href = url
  }
  return (
    <button type="button" className="attachment-chip" data-testid="attachment-pdf" title={`Open ${name}`}
      onClick={() => void open()}>
      <PdfIcon /> <span className="attachment-name">{name}</span>
    </button>
  )
}

/** The images and PDFs a sent message carries. */
export function MessageFiles({ files }: { files: FileUIPart[] }) {
  if (!files.length) return null
  return (
    <div className="msg-files" data-testid="message-files">
      {files.map((file, index) =>
        isImage({ type: file.mediaType }) ? <Thumbnail key={index} file={file} /> : <PdfChip key={index} file={file} />)}
    </div>
  )
}

/** What the composer will send with the message, each with a button to take it out. */
export function PendingFiles({ files, onRemove }: { files: FileUIPart[]; onRemove: (index: number) => void }) {
  if (!files.length) return null
  return (
    <ul className="pending-files" aria-label="Attachments" data-testid="pending-files">
      {files.map((file, index) => {
        const name = nameOf(file)
        return (
          <li key={index} className="pending-file">
            {isImage({ type: file.mediaType }) ? <img src={file.url} alt={name} /> : <PdfIcon />}
            <span className="attachment-name">{name}</span>
            <button type="button" className="pending-remove" aria-label={`Remove ${name}`} title="Remove"
              onClick={() => onRemove(index)}>
              <svg aria-hidden="true" viewBox="0 0 20 20" width="12" height="12" fill="none" stroke="currentColor" strokeWidth="2.2"><path d="M5 5l10 10M15 5L5 15" /></svg>
            </button>
          </li>
        )
      })}
    </ul>
  )
}
