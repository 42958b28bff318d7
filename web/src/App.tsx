import { generateId } from 'ai'
import { lazy, Suspense, useCallback, useEffect, useReducer, useRef, useState } from 'react'
import ChatLoader from './components/ChatLoader'
import { Sidebar } from './components/Sidebar'
import SignIn from './components/SignIn'
import {
  clearApiKey,
  deleteThread,
  fetchMe,
  listThreads,
  loadApiKey,
  renameThread,
  saveApiKey,
  type Me,
} from './lib/api'
import { fetchAuthConfig } from './lib/account'
import { ApiKeyContext } from './lib/nav'
import { emptyThreads, threadsReducer, titleFrom } from './lib/threads'

// Pages off the chat's path load on first use: they cost the first load nothing.
const DocumentsPage = lazy(() => import('./components/DocumentsPage'))
const DocumentPage = lazy(() => import('./components/DocumentPage'))
const AccountPage = lazy(() => import('./components/AccountPage'))

type Session =
  | { state: 'loading' }
  | { state: 'signed-out'; message: string | null }
  | { state: 'signed-in'; me: Me; apiKey: string | null }
  | { state: 'failed'; message: string }

/** ssoError: why the single sign-on this page came back from failed, shown on the sign-in screen. */
export default function App({ ssoError = null }: { ssoError?: string | null }) {
  const [session, setSession] = useState<Session>({ state: 'loading' })
  const [sso, setSso] = useState(false)

  useEffect(() => {
    const controller = new AbortController()
    const key = loadApiKey()
    // Both at once, and the sign-in screen only once both are known: its SSO button never pops in late.
    Promise.all([fetchMe(key, controller.signal), fetchAuthConfig(controller.signal)])
      .then(([result, config]) => {
        setSso(config.oidc)
        if (result.kind === 'ok') setSession({ state: 'signed-in', me: result.me, apiKey: key })
        else setSession({ state: 'signed-out', message: ssoError ?? (key ? 'Your saved key was not accepted.' : null) })
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return
        setSession({ state: 'failed', message: err instanceof Error ? err.message : String(err) })
      })
    return () => controller.abort()
  }, [ssoError])

  const signIn = useCallback(async (key: string): Promise<string | null> => {
    const result = await fetchMe(key)
    if (result.kind === 'unauthorized') return 'That key was not accepted.'
    saveApiKey(key)
    setSession({ state: 'signed-in', me: result.me, apiKey: key })
    return null
  }, [])

  const signOut = useCallback((message: string | null = null) => {
    clearApiKey()
    if (window.location.pathname === '/account') window.history.replaceState(null, '', '/')
    setSession({ state: 'signed-out', message })
  }, [])

  switch (session.state) {
    case 'loading':
      return (
        <p className="p-6 text-sm text-muted" role="status">
          Loading…
        </p>
      )
    case 'failed':
      return (
        <p role="alert" className="p-6 text-sm text-danger">
          Could not reach the server: {session.message}
        </p>
      )
    case 'signed-out':
      return <SignIn onSubmit={signIn} initialError={session.message} sso={sso} />
    case 'signed-in':
      return <Workspace me={session.me} apiKey={session.apiKey} onSignOut={session.apiKey ? () => signOut() : null}
        onSignedOut={signOut} />
  }
}

type OpenChat = { id: string; fresh: boolean }

/** What the address shows: a chat (`/t/{id}`, or `/` for a new one), the documents, one document, the account. */
type Route = { kind: 'chat' } | { kind: 'documents' } | { kind: 'document'; id: string; hash: string } | { kind: 'account' }

function routeFromPath(): Route {
  const path = window.location.pathname
  if (path === '/documents') return { kind: 'documents' }
  if (path === '/account') return { kind: 'account' }
  const doc = /^\/d\/([A-Za-z0-9_.:-]{1,128})$/.exec(path)
  if (doc) return { kind: 'document', id: doc[1], hash: window.location.hash }
  return { kind: 'chat' }
}

function chatIdFromPath(): string | null {
  const match = /^\/t\/([A-Za-z0-9_.:-]{1,128})$/.exec(window.location.pathname)
  return match ? match[1] : null
}

/** The chat from the address (/t/{id}), or a new one (its id put in the address, so a reload keeps it). */
function chatFromAddress(): OpenChat {
  const linked = chatIdFromPath()
  if (linked) return { id: linked, fresh: false }
  const id = generateId()
  window.history.replaceState(null, '', `/t/${id}`)
  return { id, fresh: true }
}

type WorkspaceProps = {
  me: Me
  apiKey: string | null
  onSignOut: (() => void) | null
  /** The session ended from inside (account deleted, this key revoked): back to sign-in, saying why. */
  onSignedOut: (message: string) => void
}

function Workspace({ me, apiKey, onSignOut, onSignedOut }: WorkspaceProps) {
  const [route, setRoute] = useState<Route>(routeFromPath)
  // The chat stays open (hidden) while a document page shows: back returns to it as it was.
  const [chat, setChat] = useState<OpenChat | null>(() => (route.kind === 'chat' ? chatFromAddress() : null))
  const [threads, dispatch] = useReducer(threadsReducer, emptyThreads)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [drawerOpen, setDrawerOpen] = useState(false)
  const menuButton = useRef<HTMLButtonElement>(null)

  const refresh = useCallback(async () => {
    try {
      dispatch({ type: 'first-page', page: await listThreads(apiKey) })
      setLoadError(null)
    } catch (err) {
      setLoadError(err instanceof Error ? err.message : String(err))
    }
  }, [apiKey])

  useEffect(() => {
    void refresh()
  }, [refresh])

  // Back and forward move between chats.
  useEffect(() => {
    const onPop = () => {
      const next = routeFromPath()
      setRoute(next)
      if (next.kind !== 'chat') return
      const id = chatIdFromPath()
      setChat((current) => (id && current?.id === id ? current : id ? { id, fresh: false } : chatFromAddress()))
    }
    window.addEventListener('popstate', onPop)
    return () => window.removeEventListener('popstate', onPop)
  }, [])

  const open = useCallback((id: string) => {
    setDrawerOpen(false)
    setRoute({ kind: 'chat' })
    setChat((current) => {
      if (window.location.pathname !== `/t/${id}`) window.history.pushState(null, '', `/t/${id}`)
      return current?.id === id ? current : { id, fresh: false }
    })
  }, [])

  const newChat = useCallback(() => {
    setDrawerOpen(false)
    const id = generateId()
    window.history.pushState(null, '', `/t/${id}`)
    setRoute({ kind: 'chat' })
    setChat({ id, fresh: true })
    requestAnimationFrame(() => document.getElementById('message-input')?.focus())
  }, [])

  // Ctrl/⌘+Shift+O: new chat.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'o') {
        e.preventDefault()
        newChat()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [newChat])

  const onSent = useCallback((id: string, text: string) => {
    dispatch({ type: 'touch', id, title: titleFrom(text), at: new Date().toISOString() })
  }, [])
  const onSettled = useCallback(() => void refresh(), [refresh])

  const rename = useCallback(
    async (id: string, title: string) => {
      const before = threads.threads.find((t) => t.id === id)
      dispatch({ type: 'rename', id, title })
      try {
        await renameThread(apiKey, id, title)
      } catch (err) {
        if (before) dispatch({ type: 'rename', id, title: before.title })
        throw err
      }
    },
    [apiKey, threads.threads],
  )

  const remove = useCallback(
    async (id: string) => {
      const index = threads.threads.findIndex((t) => t.id === id)
      const before = threads.threads[index]
      dispatch({ type: 'remove', id })
      try {
        await deleteThread(apiKey, id)
      } catch (err) {
        if (before) dispatch({ type: 'restore', thread: before, index })
        throw err
      }
      if (id === chat?.id && route.kind === 'chat') newChat()
    },
    [apiKey, chat?.id, route.kind, newChat, threads.threads],
  )

  const loadMore = useCallback(async () => {
    if (!threads.nextCursor) return
    try {
      dispatch({ type: 'next-page', page: await listThreads(apiKey, threads.nextCursor) })
    } catch (err) {
      setLoadError(err instanceof Error ? err.message : String(err))
    }
  }, [apiKey, threads.nextCursor])

  // The drawer (phone width): Esc closes it and focus goes back to the menu button.
  useEffect(() => {
    if (!drawerOpen) return
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setDrawerOpen(false)
        menuButton.current?.focus()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [drawerOpen])

  const [loadedTitle, setLoadedTitle] = useState<{ id: string; title: string } | null>(null)
  const onTitle = useCallback((id: string, title: string) => setLoadedTitle({ id, title }), [])
  const chatTitle = !chat
    ? ''
    : threads.threads.find((t) => t.id === chat.id)?.title ??
      (loadedTitle?.id === chat.id ? loadedTitle.title : chat.fresh ? 'New chat' : '')
  const title = route.kind === 'chat' ? chatTitle : route.kind === 'account' ? 'Account' : 'Documents'
  useEffect(() => {
    document.title = title && title !== 'New chat' ? `${title} · Parlor` : 'Parlor'
  }, [title])
  const sidebar = (onClose?: () => void) => (
    <Sidebar
      me={me}
      threads={threads.threads}
      loaded={threads.loaded}
      loadError={loadError}
      hasMore={threads.nextCursor != null}
      currentId={route.kind === 'chat' ? (chat?.id ?? '') : ''}
      documentsOpen={route.kind === 'documents' || route.kind === 'document'}
      accountOpen={route.kind === 'account'}
      apiKey={apiKey}
      onOpen={open}
      onNew={newChat}
      onRename={rename}
      onDelete={remove}
      onLoadMore={() => void loadMore()}
      onSignOut={onSignOut}
      onClose={onClose}
    />
  )

  return (
    <ApiKeyContext.Provider value={apiKey}>
    <div className="app">
      <div className="sidebar-desktop">{sidebar()}</div>
      {drawerOpen && (
        <div className="drawer" data-testid="drawer">
          <div className="drawer-backdrop" onClick={() => setDrawerOpen(false)} aria-hidden="true" />
          <div className="drawer-panel" role="dialog" aria-modal="true" aria-label="Chats">
            {sidebar(() => {
              setDrawerOpen(false)
              menuButton.current?.focus()
            })}
          </div>
        </div>
      )}
      <main className="chat-column">
        <header className="chat-header">
          <button
            ref={menuButton}
            type="button"
            className="icon-button menu-button"
            data-testid="menu-button"
            aria-label="Open chat list"
            aria-expanded={drawerOpen}
            onClick={() => setDrawerOpen(true)}
          >
            <svg aria-hidden="true" viewBox="0 0 20 20" width="20" height="20" fill="none" stroke="currentColor" strokeWidth="1.8"><path d="M3 5h14M3 10h14M3 15h14" /></svg>
          </button>
          <h1 className="chat-title" data-testid="chat-title">
            {title}
          </h1>
          <button type="button" className="icon-button menu-button" aria-label="New chat" onClick={newChat}>
            <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.8"><path d="M10 4v12M4 10h12" /></svg>
          </button>
        </header>
        {chat && (
          <div className="flex min-h-0 flex-1 flex-col" hidden={route.kind !== 'chat'}>
            <ChatLoader
              key={chat.id}
              chatId={chat.id}
              fresh={chat.fresh}
              apiKey={apiKey}
              tier={me.tier}
              onSent={onSent}
              onSettled={onSettled}
              onTitle={onTitle}
            />
          </div>
        )}
        {route.kind !== 'chat' && (
          <Suspense fallback={<p role="status" className="p-6 text-sm text-muted">Loading…</p>}>
            {route.kind === 'account' ? (
              <AccountPage me={me} onSignedOut={onSignedOut} />
            ) : route.kind === 'documents' ? (
              <DocumentsPage />
            ) : (
              <DocumentPage key={route.id} documentId={route.id} hash={route.hash} />
            )}
          </Suspense>
        )}
      </main>
    </div>
    </ApiKeyContext.Provider>
  )
}
