import { generateId } from 'ai'
import { useCallback, useEffect, useState } from 'react'

// Which page the address shows, kept in step with Back and Forward (and with navigate() in nav.ts).

/** What the address shows: a chat (`/t/{id}`, or `/` for a new one), the documents, one document, the account,
 * the assistants, one assistant's editor (`/assistants/new`: id null). */
export type Route = { kind: 'chat' } | { kind: 'documents' } | { kind: 'document'; id: string; hash: string } |
  { kind: 'account' } | { kind: 'assistants' } | { kind: 'assistant'; id: string | null }

/** The chat in the chat column; `fresh` when it was started here (nothing stored to load); `assistant`: the one
 * a new chat was started with (`/t/{id}?assistant={id}`, so a reload keeps it; a stored chat's comes with it). */
export type OpenChat = { id: string; fresh: boolean; assistant?: string | null }

const ID = '([A-Za-z0-9_.:-]{1,128})'

export function routeFromPath(pathname: string, hash = ''): Route {
  if (pathname === '/documents') return { kind: 'documents' }
  if (pathname === '/account') return { kind: 'account' }
  if (pathname === '/assistants') return { kind: 'assistants' }
  if (pathname === '/assistants/new') return { kind: 'assistant', id: null }
  const assistant = new RegExp(`^/assistants/${ID}$`).exec(pathname)
  if (assistant) return { kind: 'assistant', id: assistant[1] }
  const doc = new RegExp(`^/d/${ID}$`).exec(pathname)
  if (doc) return { kind: 'document', id: doc[1], hash }
  return { kind: 'chat' }
}

/** The token of a shared chat's address (`/s/{token}`: public, shown before any sign-in); null otherwise. */
export function sharedTokenFromPath(pathname: string): string | null {
  const match = /^\/s\/([A-Za-z0-9_-]{1,128})$/.exec(pathname)
  return match ? match[1] : null
}

/** The chat a `/t/{id}` address names; null for any other address. */
export function chatIdFromPath(pathname: string): string | null {
  const match = new RegExp(`^/t/${ID}$`).exec(pathname)
  return match ? match[1] : null
}

/** A stored chat (or a new one reloaded), with the assistant its address names (`?assistant=`), if any. */
function linkedChat(id: string): OpenChat {
  const assistant = new URLSearchParams(window.location.search).get('assistant')
  return assistant ? { id, fresh: false, assistant } : { id, fresh: false }
}

/** The chat from the address, or a new one (its id put in the address, so a reload keeps it). */
function chatFromAddress(): OpenChat {
  const linked = chatIdFromPath(window.location.pathname)
  if (linked) return linkedChat(linked)
  const id = generateId()
  window.history.replaceState(null, '', `/t/${id}`)
  return { id, fresh: true }
}

export type Router = {
  route: Route
  /** Stays open (hidden) while another page shows: Back returns to it as it was. Null until a chat shows. */
  chat: OpenChat | null
  /** Shows a stored chat (a new history entry, unless the address names it already). */
  openChat: (id: string) => void
  /** Starts a new, empty chat under a new id (with an assistant, when given). */
  newChat: (assistant?: string | null) => void
}

export function useRouter(): Router {
  const [route, setRoute] = useState<Route>(() => routeFromPath(window.location.pathname, window.location.hash))
  const [chat, setChat] = useState<OpenChat | null>(() => (route.kind === 'chat' ? chatFromAddress() : null))

  useEffect(() => {
    const onPop = () => {
      const next = routeFromPath(window.location.pathname, window.location.hash)
      setRoute(next)
      if (next.kind !== 'chat') return
      const id = chatIdFromPath(window.location.pathname)
      // Back to the chat already open keeps it as it was (no reload of its messages).
      setChat((current) => (id && current?.id === id ? current : id ? linkedChat(id) : chatFromAddress()))
    }
    window.addEventListener('popstate', onPop)
    return () => window.removeEventListener('popstate', onPop)
  }, [])

  const openChat = useCallback((id: string) => {
    if (window.location.pathname !== `/t/${id}`) window.history.pushState(null, '', `/t/${id}`)
    setRoute({ kind: 'chat' })
    setChat((current) => (current?.id === id ? current : { id, fresh: false }))
  }, [])

  const newChat = useCallback((assistant: string | null = null) => {
    const id = generateId()
    const query = assistant ? `?${new URLSearchParams({ assistant })}` : ''
    window.history.pushState(null, '', `/t/${id}${query}`)
    setRoute({ kind: 'chat' })
    setChat(assistant ? { id, fresh: true, assistant } : { id, fresh: true })
  }, [])

  return { route, chat, openChat, newChat }
}
