import { useCallback, useEffect, useRef, useState } from 'react'
import { documentHref } from '../lib/citations'
import {
  ACCEPT,
  deleteDocument,
  formatBytes,
  listDocuments,
  settled,
  uploadDocument,
  type DocumentInfo,
} from '../lib/documents'
import { onLinkClick } from '../lib/nav'
import { useApiKey } from '../lib/session'
import { useDocumentProgress } from '../lib/useDocumentProgress'
import { ConfirmDialog } from './ConfirmDialog'
import { DocumentProgressBar, kindLabel } from './DocumentCard'

/** The user's documents: status (live while processing), the chat each belongs to, upload and delete. */
export default function DocumentsPage() {
  const key = useApiKey()
  const [documents, setDocuments] = useState<DocumentInfo[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<DocumentInfo | null>(null)
  const [uploading, setUploading] = useState(false)
  const picker = useRef<HTMLInputElement>(null)

  const load = useCallback(async () => {
    try {
      setDocuments(await listDocuments(key))
      setError(null)
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    }
  }, [key])

  useEffect(() => {
    void load()
  }, [load])

  async function upload(files: File[]) {
    setUploading(true)
    setError(null)
    for (const file of files) {
      try {
        await uploadDocument(key, file, null)
      } catch (err) {
        setError(`Could not upload “${file.name}”: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    setUploading(false)
    await load()
  }

  async function remove(doc: DocumentInfo) {
    setDeleting(null)
    setDocuments((all) => all?.filter((d) => d.id !== doc.id) ?? null)
    try {
      await deleteDocument(key, doc.id)
    } catch (err) {
      setError(`Delete failed: ${err instanceof Error ? err.message : String(err)}`)
      await load()
    }
  }

  return (
    <div className="page-scroll" data-testid="documents-page">
      <div className="page">
        <div className="page-head">
          <h2 className="page-title">Your documents</h2>
          <input ref={picker} type="file" multiple accept={ACCEPT} hidden data-testid="library-file-input"
            onChange={(e) => {
              const files = Array.from(e.target.files ?? [])
              e.target.value = ''
              if (files.length) void upload(files)
            }} />
          <button type="button" className="btn-primary" disabled={uploading} onClick={() => picker.current?.click()}>
            {uploading ? 'Uploading…' : 'Upload'}
          </button>
        </div>
        <p className="page-lead">
          Documents you add are searched when you ask about them. Those added in a chat belong to that chat; those
          uploaded here are searched in every chat.
        </p>
        {error && <p role="alert" className="upload-error">{error}</p>}
        {documents === null && !error && <p role="status" className="text-sm text-muted">Loading documents…</p>}
        {documents?.length === 0 && (
          <p className="text-sm text-muted">No documents yet. Drop a file on a chat, or upload one here.</p>
        )}
        {documents && documents.length > 0 && (
          <ul className="doc-list" data-testid="document-list">
            {documents.map((doc) => (
              <DocumentRow key={doc.id} doc={doc} onDelete={() => setDeleting(doc)} />
            ))}
          </ul>
        )}
      </div>
      {deleting && (
        <ConfirmDialog title="Delete this document?" confirmLabel="Delete" onCancel={() => setDeleting(null)}
          onConfirm={() => void remove(deleting)}>
          “{deleting.filename}” and everything indexed from it will be deleted. Answers that cited it keep their
          text, but their links will no longer open it.
        </ConfirmDialog>
      )}
    </div>
  )
}

function DocumentRow({ doc, onDelete }: { doc: DocumentInfo; onDelete: () => void }) {
  const progress = useDocumentProgress(doc.id, doc)
  const pages = progress.pages ?? doc.pages
  const facts = [formatBytes(doc.size_bytes), pages != null && `${pages} page${pages === 1 ? '' : 's'}`,
    new Date(doc.created_at).toLocaleDateString()].filter(Boolean)
  return (
    <li className="doc-row" data-testid="document-row" data-document-id={doc.id} data-status={progress.status}>
      <span className="doc-kind" aria-hidden="true">{kindLabel(doc.filename, doc.content_type)}</span>
      <div className="doc-body">
        <a className="doc-name" href={documentHref(doc.id, null)} onClick={onLinkClick}>{doc.filename}</a>
        <div className="doc-details">
          {facts.join(' · ')}
          {doc.thread_id && (
            <> · <a href={`/t/${doc.thread_id}`} onClick={onLinkClick}>in a chat</a></>
          )}
        </div>
        {!settled(progress.status) && <DocumentProgressBar name={doc.filename} progress={progress} />}
        <div aria-live="polite" className="doc-status">
          {progress.status === 'ready' && <span className="doc-ready">Ready</span>}
          {progress.status === 'failed' && <span className="doc-failed">Failed: {progress.error || 'unreadable'}</span>}
        </div>
      </div>
      <button type="button" className="icon-button" data-testid="delete-document" aria-label={`Delete “${doc.filename}”`}
        title="Delete" onClick={onDelete}>
        <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6"><path d="M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10" /></svg>
      </button>
    </li>
  )
}
