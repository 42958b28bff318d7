import { useEffect, useRef, useState } from 'react'
import { ApiError } from '../lib/http'
import { createShare, listShares, revokeShare, shareAddress, type NewShare, type Share } from '../lib/shares'
import { CopyButton } from './CopyButton'

type Props = { threadId: string; apiKey: string | null; onClose: () => void }

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

function reason(err: unknown): string {
  if (err instanceof ApiError && err.code === 'thread_not_found') return 'Send a message first: there is nothing to share yet.'
  return err instanceof Error ? err.message : String(err)
}

/**
 * "Share this chat": makes a read-only link to the chat as it is now (shown once: Parlor keeps only a hash
 * of it), and lists the live links, each with a button that revokes it. A modal <dialog>; Esc closes it.
 */
export function ShareDialog({ threadId, apiKey, onClose }: Props) {
  const ref = useRef<HTMLDialogElement>(null)
  const [links, setLinks] = useState<Share[] | null>(null)
  const [made, setMade] = useState<NewShare | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    const opener = document.activeElement as HTMLElement | null
    if (typeof dialog.showModal === 'function') dialog.showModal()
    else dialog.setAttribute('open', '')
    dialog.querySelector<HTMLButtonElement>('[data-testid="create-share"]')?.focus()
    return () => {
      if (dialog.open && typeof dialog.close === 'function') dialog.close()
      opener?.focus?.()
    }
  }, [])

  useEffect(() => {
    let live = true
    listShares(apiKey, threadId).then((found) => live && setLinks(found))
      .catch((err: unknown) => live && (setLinks([]), setError(reason(err))))
    return () => {
      live = false
    }
  }, [apiKey, threadId])

  async function create() {
    setBusy(true)
    setError(null)
    try {
      const link = await createShare(apiKey, threadId)
      setMade(link)
      setLinks((current) => [link, ...(current ?? [])])
    } catch (err) {
      setError(reason(err))
    } finally {
      setBusy(false)
    }
  }

  async function revoke(id: string) {
    setError(null)
    try {
      await revokeShare(apiKey, id)
      setLinks((current) => (current ?? []).filter((l) => l.id !== id))
      if (made?.id === id) setMade(null)
    } catch (err) {
      setError(reason(err))
    }
  }

  const address = made ? shareAddress(made.url) : ''
  return (
    <dialog ref={ref} className="dialog share-dialog" aria-labelledby="share-title" data-testid="share-dialog"
      onCancel={(e) => {
        e.preventDefault()
        onClose()
      }}>
      <h2 id="share-title" className="text-base font-semibold">Share this chat</h2>
      <p className="mt-2 text-sm text-muted">
        Anyone with the link can read this chat as it is now, without signing in. What you send later is not shown.
      </p>
      {made ? (
        <div className="share-made">
          <label htmlFor="share-url" className="text-sm font-medium">Link</label>
          <div className="share-url-row">
            <input id="share-url" data-testid="share-url" readOnly value={address} onFocus={(e) => e.currentTarget.select()} />
            <CopyButton label="Copy link" testId="copy-share-link" getText={() => address} />
          </div>
          <p className="text-xs text-muted" role="status">
            Copy it now: Parlor keeps no copy of the link, so it is shown only this once.
          </p>
        </div>
      ) : (
        <button type="button" className="btn-primary mt-4" data-testid="create-share" disabled={busy} onClick={() => void create()}>
          {busy ? 'Creating…' : 'Create link'}
        </button>
      )}
      {error && <p role="alert" className="mt-3 text-sm text-danger" data-testid="share-error">{error}</p>}
      <h3 className="mt-5 text-sm font-semibold">Active links</h3>
      {links === null ? (
        <p className="text-sm text-muted" role="status">Loading…</p>
      ) : links.length === 0 ? (
        <p className="text-sm text-muted" data-testid="no-shares">No active links.</p>
      ) : (
        <ul className="share-list" data-testid="share-list">
          {links.map((link) => (
            <li key={link.id} className="share-item">
              <span>Shared {when(link.created_at)}</span>
              <button type="button" className="btn-secondary" data-testid="revoke-share"
                aria-label={`Revoke the link shared ${when(link.created_at)}`} onClick={() => void revoke(link.id)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="mt-5 flex justify-end">
        <button type="button" className="btn-secondary" data-testid="close-share" onClick={onClose}>Close</button>
      </div>
    </dialog>
  )
}
