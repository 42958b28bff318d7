import { useEffect, useMemo, useState } from 'react'
import {
  downloadDocument,
  formatBytes,
  getChunks,
  getDocument,
  settled,
  stageLabel,
  type Chunk,
  type DocumentInfo,
} from '../lib/documents'
import { useApiKey } from '../lib/session'
import { useDocumentProgress } from '../lib/useDocumentProgress'
import { DocumentProgressBar, kindLabel } from './DocumentCard'

type Props = { documentId: string; /** `#page-N`: the page to show first (a citation's). */ hash: string }

/** Chunks by page, in page order (a document without pages is one group, `null`). */
export function byPage(chunks: Chunk[]): [number | null, Chunk[]][] {
  const groups = new Map<number | null, Chunk[]>()
  for (const chunk of [...chunks].sort((a, b) => a.ordinal - b.ordinal)) {
    const list = groups.get(chunk.page) ?? []
    list.push(chunk)
    groups.set(chunk.page, list)
  }
  return [...groups].sort(([a], [b]) => (a ?? 0) - (b ?? 0))
}

/** One document (a deep link, `/d/{id}#page-N`): name, status, its text by page, the original file. */
export default function DocumentPage({ documentId, hash }: Props) {
  const key = useApiKey()
  const [doc, setDoc] = useState<DocumentInfo | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    setDoc(null)
    setFailure(null)
    getDocument(key, documentId)
      .then((found) => live && setDoc(found))
      .catch((err: unknown) => live && setFailure(err instanceof Error ? err.message : String(err)))
    return () => {
      live = false
    }
  }, [key, documentId])

  return (
    <div className="page-scroll" data-testid="document-page">
      <div className="page">
        {failure && <p role="alert" className="upload-error">Could not open this document: {failure}</p>}
        {!doc && !failure && <p role="status" className="text-sm text-muted">Loading document…</p>}
        {doc && <DocumentView doc={doc} hash={hash} />}
      </div>
    </div>
  )
}

function DocumentView({ doc, hash }: { doc: DocumentInfo; hash: string }) {
  const key = useApiKey()
  const progress = useDocumentProgress(doc.id, doc)
  const [chunks, setChunks] = useState<Chunk[] | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const ready = progress.status === 'ready'

  useEffect(() => {
    if (!ready) return
    let live = true
    getChunks(key, doc.id)
      .then((found) => live && setChunks(found))
      .catch((err: unknown) => live && setProblem(err instanceof Error ? err.message : String(err)))
    return () => {
      live = false
    }
  }, [key, doc.id, ready])

  const groups = useMemo(() => (chunks ? byPage(chunks) : []), [chunks])
  const target = /^#page-(\d+)$/.exec(hash)?.[1]

  // The cited page: scrolled to once its text is on screen, and marked.
  useEffect(() => {
    if (!target || !groups.length) return
    const section = document.getElementById(`page-${target}`)
    section?.scrollIntoView({ block: 'start' })
    section?.focus({ preventScroll: true })
  }, [target, groups])

  const pages = progress.pages ?? doc.pages
  const facts = [kindLabel(doc.filename, doc.content_type), formatBytes(doc.size_bytes),
    pages != null && `${pages} page${pages === 1 ? '' : 's'}`,
    (progress.chunks ?? doc.chunks) != null && `${progress.chunks ?? doc.chunks} passages`].filter(Boolean)

  return (
    <article aria-labelledby="document-title">
      <header className="doc-header">
      <div className="page-head">
        <h2 id="document-title" className="page-title" data-testid="document-title">{doc.filename}</h2>
        <button type="button" className="btn-secondary" data-testid="download-document"
          onClick={() => void downloadDocument(key, doc.id, doc.filename).catch((err: unknown) =>
            setProblem(`Download failed: ${err instanceof Error ? err.message : String(err)}`))}>
          Download
        </button>
      </div>
      <p className="doc-details">{facts.join(' · ')}</p>
      <div className="mt-2" aria-live="polite" data-testid="document-page-status">
        {ready && <span className="doc-ready">Ready</span>}
        {progress.status === 'failed' && <span className="doc-failed">Failed: {progress.error || 'unreadable'}</span>}
        {progress.status === 'deleted' && <span className="doc-failed">This document was deleted.</span>}
        {!settled(progress.status) && <span className="text-muted">{stageLabel(progress.stage)}…</span>}
      </div>
      {!settled(progress.status) && <DocumentProgressBar name={doc.filename} progress={progress} />}
      </header>
      {problem && <p role="alert" className="upload-error">{problem}</p>}
      {ready && !chunks && !problem && <p role="status" className="text-sm text-muted">Loading the text…</p>}
      {groups.length > 0 && (
        <nav aria-label="Pages" className="page-jump">
          {groups.filter(([page]) => page != null).map(([page]) => (
            <a key={page} href={`#page-${page}`} aria-current={String(page) === target ? 'location' : undefined}>
              {page}
            </a>
          ))}
        </nav>
      )}
      {groups.map(([page, list]) => (
        <section key={page ?? 'text'} id={page != null ? `page-${page}` : undefined} tabIndex={-1}
          className={'doc-page' + (String(page) === target ? ' doc-page-target' : '')} data-testid="document-page-section"
          aria-labelledby={`page-heading-${page ?? 'text'}`}>
          <h3 id={`page-heading-${page ?? 'text'}`} className="doc-page-heading">
            {page != null ? `Page ${page}` : 'Text'}
          </h3>
          {list.map((chunk) => (
            <p key={chunk.ordinal} className="doc-chunk" data-ordinal={chunk.ordinal}>{chunk.text}</p>
          ))}
        </section>
      ))}
    </article>
  )
}
