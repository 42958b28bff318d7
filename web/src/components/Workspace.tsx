import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react'
import type { Me } from '../lib/api'
import type { ChatAssistant } from '../lib/assistants'
import { useModels } from '../lib/useModels'
import { navigate } from '../lib/nav'
import { useRouter, type OpenChat, type Route } from '../lib/router'
import { useThreadList, type ThreadList } from '../lib/useThreadList'
import { AssistantBadge } from './AssistantWelcome'
import { ChatActions } from './ChatActions'
import ChatLoader from './ChatLoader'
import { Sidebar } from './Sidebar'

// Pages off the chat's path load on first use: they cost the first load nothing.
const DocumentsPage = lazy(() => import('./DocumentsPage'))
const DocumentPage = lazy(() => import('./DocumentPage'))
const AccountPage = lazy(() => import('./AccountPage'))
const AssistantsPage = lazy(() => import('./AssistantsPage'))
const AssistantEditor = lazy(() => import('./AssistantEditor'))

type Props = {
  me: Me
  apiKey: string | null
  onSignOut: (() => void) | null
  /** The session ended from inside (account deleted, this key revoked): back to sign-in, saying why. */
  onSignedOut: (message: string) => void
}

/** The signed-in layout: the chat list (a drawer at phone width), a header, and the page the address shows. */
export default function Workspace({ me, apiKey, onSignOut, onSignedOut }: Props) {
  const { route, chat, openChat, newChat } = useRouter()
  const threads = useThreadList(apiKey)
  const models = useModels(apiKey)
  const [drawerOpen, setDrawerOpen] = useState(false)
  const menuButton = useRef<HTMLButtonElement>(null)

  const open = useCallback((id: string) => {
    setDrawerOpen(false)
    openChat(id)
  }, [openChat])

  const startChat = useCallback((assistant: string | null = null) => {
    setDrawerOpen(false)
    newChat(assistant)
    requestAnimationFrame(() => document.getElementById('message-input')?.focus())
  }, [newChat])

  // Ctrl/⌘+Shift+O: new chat.
  useKeydown(useCallback((e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'o') {
      e.preventDefault()
      startChat()
    }
  }, [startChat]))
  const toGallery = useCallback(() => navigate('/assistants'), [])

  // The drawer (phone width): Esc closes it and focus goes back to the menu button.
  const closeDrawer = useCallback(() => {
    setDrawerOpen(false)
    menuButton.current?.focus()
  }, [])
  useKeydown(useCallback((e: KeyboardEvent) => {
    if (e.key === 'Escape') closeDrawer()
  }, [closeDrawer]), drawerOpen)

  const { remove: removeThread } = threads
  const remove = useCallback(async (id: string) => {
    await removeThread(id)
    // The open chat is gone: a new one takes its place.
    if (id === chat?.id && route.kind === 'chat') startChat()
  }, [removeThread, chat?.id, route.kind, startChat])

  const [loadedTitle, setLoadedTitle] = useState<{ id: string; title: string } | null>(null)
  const onTitle = useCallback((id: string, title: string) => setLoadedTitle({ id, title }), [])
  const [chatAssistant, setChatAssistant] = useState<{ id: string; assistant: ChatAssistant | null } | null>(null)
  const onAssistant = useCallback((id: string, assistant: ChatAssistant | null) => setChatAssistant({ id, assistant }),
    [])
  const headerAssistant = route.kind === 'chat' && chatAssistant?.id === chat?.id ? chatAssistant?.assistant : null
  const title = pageTitle(route, chat, threads, loadedTitle)
  useEffect(() => {
    document.title = title && title !== 'New chat' ? `${title} · Parlor` : 'Parlor'
  }, [title])

  const sidebar = (onClose?: () => void) => (
    <Sidebar
      me={me}
      threads={threads.threads}
      loaded={threads.loaded}
      loadError={threads.loadError}
      hasMore={threads.nextCursor != null}
      currentId={route.kind === 'chat' ? (chat?.id ?? '') : ''}
      documentsOpen={route.kind === 'documents' || route.kind === 'document'}
      accountOpen={route.kind === 'account'}
      assistantsOpen={route.kind === 'assistants' || route.kind === 'assistant'}
      apiKey={apiKey}
      onOpen={open}
      onNew={() => startChat()}
      onRename={threads.rename}
      onDelete={remove}
      onLoadMore={() => void threads.loadMore()}
      onSignOut={onSignOut}
      onClose={onClose}
    />
  )

  return (
    <div className="app">
      <div className="sidebar-desktop">{sidebar()}</div>
      {drawerOpen && (
        <div className="drawer" data-testid="drawer">
          <div className="drawer-backdrop" onClick={() => setDrawerOpen(false)} aria-hidden="true" />
          <div className="drawer-panel" role="dialog" aria-modal="true" aria-label="Chats">
            {sidebar(closeDrawer)}
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
          {headerAssistant && <AssistantBadge assistant={headerAssistant} />}
          <h1 className="chat-title" data-testid="chat-title">
            {title}
          </h1>
          {route.kind === 'chat' && chat && title && title !== 'New chat' && (
            <ChatActions key={chat.id} threadId={chat.id} apiKey={apiKey} />
          )}
          <button type="button" className="icon-button menu-button" aria-label="New chat" onClick={() => startChat()}>
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
              models={models}
              onSent={threads.touch}
              onSettled={threads.refresh}
              onTitle={onTitle}
              assistantId={chat.assistant}
              onAssistant={onAssistant}
            />
          </div>
        )}
        {route.kind !== 'chat' && (
          <Suspense fallback={<p role="status" className="p-6 text-sm text-muted">Loading…</p>}>
            {route.kind === 'account' ? (
              <AccountPage me={me} onSignedOut={onSignedOut} />
            ) : route.kind === 'assistants' ? (
              <AssistantsPage onChat={startChat} />
            ) : route.kind === 'assistant' ? (
              <AssistantEditor key={route.id ?? 'new'} assistantId={route.id} models={models} onSaved={toGallery} />
            ) : route.kind === 'documents' ? (
              <DocumentsPage />
            ) : (
              <DocumentPage key={route.id} documentId={route.id} hash={route.hash} />
            )}
          </Suspense>
        )}
      </main>
    </div>
  )
}

/** The header's (and the tab's) title: the open chat's, once known, or the page's name. */
function pageTitle(route: Route, chat: OpenChat | null, threads: ThreadList,
  loaded: { id: string; title: string } | null): string {
  if (route.kind === 'account') return 'Account'
  if (route.kind === 'assistants') return 'Assistants'
  if (route.kind === 'assistant') return route.id ? 'Edit assistant' : 'New assistant'
  if (route.kind !== 'chat') return 'Documents'
  if (!chat) return ''
  return threads.threads.find((t) => t.id === chat.id)?.title ??
    (loaded?.id === chat.id ? loaded.title : chat.fresh ? 'New chat' : '')
}

/** Hears every key press on the page while `active` (onKey: a stable callback, or it is added anew each render). */
function useKeydown(onKey: (e: KeyboardEvent) => void, active = true): void {
  useEffect(() => {
    if (!active) return
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onKey, active])
}
