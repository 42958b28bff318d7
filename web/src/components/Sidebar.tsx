import { useEffect, useRef, useState, type KeyboardEvent } from 'react'
import type { Me, Thread } from '../lib/api'
import { onLinkClick } from '../lib/nav'
import { filterThreads } from '../lib/threads'
import { useThreadSearch } from '../lib/useThreadSearch'
import { AssistantAvatar } from './AssistantAvatar'
import { ConfirmDialog } from './ConfirmDialog'

type Props = {
  me: Me
  threads: Thread[]
  loaded: boolean
  loadError: string | null
  hasMore: boolean
  currentId: string
  /** The documents pages are showing (the Documents link is the current one). */
  documentsOpen?: boolean
  /** The account page is showing. */
  accountOpen?: boolean
  /** The assistants' gallery or editor is showing. */
  assistantsOpen?: boolean
  apiKey?: string | null
  onOpen: (id: string) => void
  onNew: () => void
  onRename: (id: string, title: string) => Promise<void>
  onDelete: (id: string) => Promise<void>
  onLoadMore: () => void
  onSignOut: (() => void) | null
  /** Phone width: the sidebar is a drawer, closed after a choice. */
  onClose?: () => void
}

export function Sidebar(props: Props) {
  const { me, threads, loaded, loadError, hasMore, currentId, onOpen, onNew, onLoadMore, onSignOut, onClose } = props
  const [query, setQuery] = useState('')
  const [renaming, setRenaming] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<Thread | null>(null)
  const [actionError, setActionError] = useState<string | null>(null)
  const [removed, setRemoved] = useState<ReadonlySet<string>>(new Set())
  const searchRef = useRef<HTMLInputElement>(null)
  // Searching: the loaded titles that match at once, then the server's answer (titles and messages).
  const search = useThreadSearch(props.apiKey ?? null, query)
  const searchingFor = query.trim()
  const known = new Map(threads.map((t) => [t.id, t]))
  const shown = searchingFor
    ? (search.results?.filter((t) => !removed.has(t.id)).map((t) => known.get(t.id) ?? t) ??
      filterThreads(threads, query))
    : threads
  const moreToLoad = searchingFor ? search.hasMore : hasMore

  // Ctrl/⌘+K: search chats.
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault()
        searchRef.current?.focus()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])

  return (
    <nav aria-label="Chats" className="sidebar" data-testid="sidebar">
      <div className="flex items-center gap-2 px-3 pt-3">
        <span className="brand">Parlor</span>
        {onClose && (
          <button type="button" className="icon-button ml-auto" aria-label="Close chat list" onClick={onClose} autoFocus>
            <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.8"><path d="M5 5l10 10M15 5 5 15" /></svg>
          </button>
        )}
      </div>
      <div className="px-3 pt-3">
        <button type="button" data-testid="new-chat" className="new-chat" onClick={onNew} aria-keyshortcuts="Control+Shift+O">
          <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.8"><path d="M10 4v12M4 10h12" /></svg>
          New chat
        </button>
      </div>
      <div className="px-3 pt-1">
        <a href="/assistants" className="nav-link" data-testid="assistants-link" onClick={(e) => {
          onLinkClick(e)
          if (e.defaultPrevented) onClose?.()
        }} aria-current={props.assistantsOpen ? 'page' : undefined}>
          <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6"><rect x="4" y="6" width="12" height="10" rx="3" /><path d="M10 3v3M7.5 11h.01M12.5 11h.01M2.5 10.5v2M17.5 10.5v2" /></svg>
          Assistants
        </a>
        <a href="/documents" className="nav-link" data-testid="documents-link" onClick={(e) => {
          onLinkClick(e)
          if (e.defaultPrevented) onClose?.()
        }} aria-current={props.documentsOpen ? 'page' : undefined}>
          <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6"><path d="M5 2.5h6.5L15 6v11.5H5zM11.5 2.5V6H15M7.5 10h5M7.5 13h5" /></svg>
          Documents
        </a>
        <a href="/account" className="nav-link" data-testid="account-link" onClick={(e) => {
          onLinkClick(e)
          if (e.defaultPrevented) onClose?.()
        }} aria-current={props.accountOpen ? 'page' : undefined}>
          <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6"><circle cx="10" cy="7" r="3.2" /><path d="M3.5 17c.8-3.2 3.4-5 6.5-5s5.7 1.8 6.5 5" /></svg>
          Account
        </a>
      </div>
      <div className="px-3 pt-2">
        <label htmlFor="thread-search" className="sr-only">
          Search chats
        </label>
        <input
          ref={searchRef}
          id="thread-search"
          data-testid="thread-search"
          type="search"
          placeholder="Search chats (Ctrl+K)"
          aria-controls="thread-list"
          aria-busy={search.searching || undefined}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          className="search"
          aria-keyshortcuts="Control+K"
        />
      </div>
      {actionError && (
        <p role="alert" className="mx-3 mt-2 rounded-md bg-danger-soft px-2 py-1 text-xs text-danger">
          {actionError}
        </p>
      )}
      <div className="thread-scroll">
        {!loaded && !loadError && <p className="px-4 py-2 text-xs text-muted">Loading chats…</p>}
        {loadError && (
          <p role="alert" className="px-4 py-2 text-xs text-danger">
            Could not load your chats: {loadError}
          </p>
        )}
        {loaded && threads.length === 0 && <p className="px-4 py-2 text-xs text-muted">No chats yet.</p>}
        {searchingFor && search.error && (
          <p role="alert" className="px-4 py-2 text-xs text-danger">Search failed: {search.error}</p>
        )}
        <p className="sr-only" role="status">
          {searchingFor && search.results ? `${search.results.length}${search.hasMore ? '+' : ''} chats found` : ''}
        </p>
        {searchingFor && shown.length === 0 && (
          <p className="px-4 py-2 text-xs text-muted" data-testid="search-empty">
            {search.results ? `No chat mentions “${searchingFor}”.` : 'Searching…'}
          </p>
        )}
        <ul className="thread-list" id="thread-list" data-testid="thread-list"
          aria-label={searchingFor ? `Chats matching “${searchingFor}”` : 'Your chats'}>
          {shown.map((thread) =>
            renaming === thread.id ? (
              <li key={thread.id}>
                <RenameBox
                  initial={thread.title}
                  onCancel={() => setRenaming(null)}
                  onSave={async (title) => {
                    setRenaming(null)
                    setActionError(null)
                    try {
                      await props.onRename(thread.id, title)
                    } catch (err) {
                      setActionError(`Rename failed: ${err instanceof Error ? err.message : String(err)}`)
                    }
                  }}
                />
              </li>
            ) : (
              <li key={thread.id} className="thread-item" data-testid="thread-item" data-thread-id={thread.id}>
                <a
                  href={`/t/${thread.id}`}
                  aria-current={thread.id === currentId ? 'page' : undefined}
                  className="thread-link"
                  onClick={(e) => {
                    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
                    e.preventDefault()
                    onOpen(thread.id)
                  }}
                >
                  {thread.assistant && <AssistantAvatar assistant={thread.assistant} size="xs" />}
                  {thread.title || 'Untitled chat'}
                </a>
                <div className="thread-actions">
                  <button type="button" className="icon-button" data-testid="rename-thread"
                    aria-label={`Rename “${thread.title || 'Untitled chat'}”`} title="Rename" onClick={() => setRenaming(thread.id)}>
                    <svg aria-hidden="true" viewBox="0 0 20 20" width="14" height="14" fill="none" stroke="currentColor" strokeWidth="1.6"><path d="M13.5 3.5l3 3L7 16H4v-3z" /></svg>
                  </button>
                  <button type="button" className="icon-button" data-testid="delete-thread"
                    aria-label={`Delete “${thread.title || 'Untitled chat'}”`} title="Delete" onClick={() => setDeleting(thread)}>
                    <svg aria-hidden="true" viewBox="0 0 20 20" width="14" height="14" fill="none" stroke="currentColor" strokeWidth="1.6"><path d="M4 6h12M8 6V4h4v2M6 6l1 10h6l1-10" /></svg>
                  </button>
                </div>
              </li>
            ),
          )}
        </ul>
        {moreToLoad && (
          <button type="button" className="load-more" data-testid="load-more"
            onClick={searchingFor ? search.loadMore : onLoadMore}>
            {searchingFor ? 'More results' : 'Load older chats'}
          </button>
        )}
      </div>
      <div className="sidebar-foot">
        <div className="min-w-0 flex-1">
          <div className="truncate text-sm font-medium" data-testid="current-user">
            {me.name}
          </div>
          <div className="text-xs text-muted">
            <span data-testid="tier-badge" className="tier">{me.tier}</span> tier
          </div>
        </div>
        {onSignOut && (
          <button type="button" className="btn-secondary text-xs" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </div>
      {deleting && (
        <ConfirmDialog
          title="Delete this chat?"
          confirmLabel="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            const target = deleting
            setDeleting(null)
            setActionError(null)
            try {
              await props.onDelete(target.id)
              setRemoved((ids) => new Set(ids).add(target.id))
            } catch (err) {
              setActionError(`Delete failed: ${err instanceof Error ? err.message : String(err)}`)
            }
          }}
        >
          “{deleting.title || 'Untitled chat'}” and all its messages will be deleted. This cannot be undone.
        </ConfirmDialog>
      )}
    </nav>
  )
}

function RenameBox({ initial, onSave, onCancel }: { initial: string; onSave: (t: string) => void; onCancel: () => void }) {
  const [value, setValue] = useState(initial)
  const ref = useRef<HTMLInputElement>(null)
  const done = useRef(false)
  useEffect(() => {
    ref.current?.focus()
    ref.current?.select()
  }, [])
  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    if (e.key === 'Escape') {
      e.preventDefault()
      e.stopPropagation()
      done.current = true
      onCancel()
    }
  }
  return (
    <form
      className="px-2 py-1"
      onSubmit={(e) => {
        e.preventDefault()
        if (done.current) return
        done.current = true
        const title = value.trim()
        if (title && title !== initial) onSave(title.slice(0, 200))
        else onCancel()
      }}
    >
      <label htmlFor="rename-input" className="sr-only">
        New title
      </label>
      <input id="rename-input" data-testid="rename-input" ref={ref} value={value} maxLength={200}
        onChange={(e) => setValue(e.target.value)} onKeyDown={onKeyDown}
        onBlur={(e) => e.currentTarget.form?.requestSubmit()} className="search" />
    </form>
  )
}
