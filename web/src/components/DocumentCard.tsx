import { settled, stageLabel, type DocumentPartData, type DocumentProgress } from '../lib/documents'
import { documentHref } from '../lib/citations'
import { onLinkClick } from '../lib/nav'
import { useDocumentProgress } from '../lib/useDocumentProgress'

/** A short label for the kind of file (by type, else by the name's extension). */
export function kindLabel(name: string, mediaType?: string | null): string {
  const byType: Record<string, string> = {
    'application/pdf': 'PDF',
    'text/markdown': 'MD',
    'text/plain': 'TXT',
    'text/html': 'HTML',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'DOCX',
  }
  if (mediaType && byType[mediaType]) return byType[mediaType]
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(name)?.[1]
  return ext ? ext.toUpperCase() : 'FILE'
}

function focusComposer() {
  document.getElementById('message-input')?.focus()
}

/** The progress bar and stage while processing. */
export function DocumentProgressBar({ name, progress }: { name: string; progress: DocumentProgress }) {
  const value = Math.max(0, Math.min(100, Math.round(progress.progress)))
  return (
    <div className="doc-progress-row">
      <div role="progressbar" aria-label={`Processing ${name}`} aria-valuemin={0} aria-valuemax={100}
        aria-valuenow={value} aria-valuetext={`${stageLabel(progress.stage)}, ${value}%`}
        className="doc-progress" data-testid="document-progress">
        <div className="doc-progress-fill" style={{ width: `${value}%` }} />
      </div>
      <span className="doc-stage" data-testid="document-stage">
        {stageLabel(progress.stage)} · {value}%
      </span>
    </div>
  )
}

/** A document shown in a chat (the `data-document` part): live progress, then ready or failed. */
export function DocumentCard({ data }: { data: DocumentPartData }) {
  const progress = useDocumentProgress(data.documentId, {
    status: data.status,
    stage: data.stage ?? data.status,
    progress: data.progress,
    error: data.error ?? null,
  })
  const { status } = progress
  const details = [progress.pages != null && `${progress.pages} page${progress.pages === 1 ? '' : 's'}`,
    progress.chunks != null && `${progress.chunks} passage${progress.chunks === 1 ? '' : 's'}`].filter(Boolean)
  return (
    <div className="doc-card" data-testid="document-card" data-status={status} data-document-id={data.documentId}>
      <span className="doc-kind" aria-hidden="true">{kindLabel(data.name, data.mediaType)}</span>
      <div className="doc-body">
        {status === 'deleted' ? (
          <span className="doc-name">{data.name}</span>
        ) : (
          <a className="doc-name" href={documentHref(data.documentId, null)} onClick={onLinkClick}
            title={`Open ${data.name}`}>
            {data.name}
          </a>
        )}
        {!settled(status) && <DocumentProgressBar name={data.name} progress={progress} />}
        <div aria-live="polite" data-testid="document-status" className="doc-status">
          {status === 'ready' && (
            <span className="doc-ready">
              Ready —{' '}
              <button type="button" className="link-button" onClick={focusComposer}>ask about it</button>
              {details.length > 0 && <span className="doc-details"> · {details.join(' · ')}</span>}
            </span>
          )}
          {status === 'failed' && <span className="doc-failed">Failed: {progress.error || 'the document could not be read.'}</span>}
          {status === 'deleted' && <span className="text-muted">This document was deleted.</span>}
        </div>
      </div>
    </div>
  )
}
