import { useEffect, useRef, useState } from 'react'
import { exportThread, type ExportFormat } from '../lib/shares'
import { ShareDialog } from './ShareDialog'

type Props = { threadId: string; apiKey: string | null }

/** The chat header's "Share" (a dialog of links) and "Export" (a download, Markdown or JSON). */
export function ChatActions({ threadId, apiKey }: Props) {
  const [sharing, setSharing] = useState(false)
  const [menu, setMenu] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const exportButton = useRef<HTMLButtonElement>(null)
  const menuRef = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (!menu) return
    menuRef.current?.querySelector('button')?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return
      e.preventDefault()
      setMenu(false)
      exportButton.current?.focus()
    }
    const onClick = (e: MouseEvent) => {
      if (!menuRef.current?.parentElement?.contains(e.target as Node)) setMenu(false)
    }
    window.addEventListener('keydown', onKey)
    window.addEventListener('mousedown', onClick)
    return () => {
      window.removeEventListener('keydown', onKey)
      window.removeEventListener('mousedown', onClick)
    }
  }, [menu])

  async function download(format: ExportFormat) {
    setMenu(false)
    setError(null)
    try {
      await exportThread(apiKey, threadId, format)
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    }
    exportButton.current?.focus()
  }

  return (
    <div className="chat-actions">
      <button type="button" className="btn-secondary btn-small" data-testid="share-button" onClick={() => setSharing(true)}>
        Share
      </button>
      <div className="export-wrap">
        <button ref={exportButton} type="button" className="btn-secondary btn-small" data-testid="export-button"
          aria-expanded={menu} aria-controls="export-options" onClick={() => setMenu((open) => !open)}>
          Export
        </button>
        {menu && (
          <div ref={menuRef} id="export-options" className="export-menu" data-testid="export-menu">
            <button type="button" data-testid="export-markdown" onClick={() => void download('markdown')}>Markdown (.md)</button>
            <button type="button" data-testid="export-json" onClick={() => void download('json')}>JSON (.json)</button>
          </div>
        )}
      </div>
      {error && <span role="alert" className="text-xs text-danger" data-testid="export-error">Export failed: {error}</span>}
      {sharing && <ShareDialog threadId={threadId} apiKey={apiKey} onClose={() => setSharing(false)} />}
    </div>
  )
}
