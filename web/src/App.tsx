import { generateId } from 'ai'
import { useCallback, useEffect, useState } from 'react'
import ChatLoader from './components/ChatLoader'
import SignIn from './components/SignIn'
import { clearApiKey, fetchMe, loadApiKey, saveApiKey, type Me } from './lib/api'

type Session =
  | { state: 'loading' }
  | { state: 'signed-out'; message: string | null }
  | { state: 'signed-in'; me: Me; apiKey: string | null }
  | { state: 'failed'; message: string }

export default function App() {
  const [session, setSession] = useState<Session>({ state: 'loading' })
  // The chat id is the thread id, kept in the address (/t/{id}) so a reload or a link reopens it.
  // A chat opened from the address may have history; a new one (`fresh`) has none to load.
  const [chat, setChat] = useState(() => {
    const linked = chatIdFromPath()
    return linked ? { id: linked, fresh: false } : { id: newChatPath(), fresh: true }
  })

  useEffect(() => {
    const controller = new AbortController()
    const key = loadApiKey()
    fetchMe(key, controller.signal)
      .then((result) => {
        if (result.kind === 'ok') setSession({ state: 'signed-in', me: result.me, apiKey: key })
        else setSession({ state: 'signed-out', message: key ? 'Your saved key was not accepted.' : null })
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return
        setSession({ state: 'failed', message: err instanceof Error ? err.message : String(err) })
      })
    return () => controller.abort()
  }, [])

  const signIn = useCallback(async (key: string): Promise<string | null> => {
    const result = await fetchMe(key)
    if (result.kind === 'unauthorized') return 'That key was not accepted.'
    saveApiKey(key)
    setSession({ state: 'signed-in', me: result.me, apiKey: key })
    return null
  }, [])

  const signOut = useCallback(() => {
    clearApiKey()
    setSession({ state: 'signed-out', message: null })
  }, [])

  switch (session.state) {
    case 'loading':
      return <p className="p-6 text-sm text-slate-500">Loading…</p>
    case 'failed':
      return (
        <p role="alert" className="p-6 text-sm text-red-700">
          Could not reach the server: {session.message}
        </p>
      )
    case 'signed-out':
      return <SignIn onSubmit={signIn} initialError={session.message} />
    case 'signed-in':
      return (
        <div className="flex h-dvh flex-col bg-slate-50">
          <header className="flex items-center gap-3 border-b border-slate-200 bg-white px-4 py-2">
            <h1 className="font-semibold text-slate-900">Parlor</h1>
            <button
              type="button"
              onClick={() => setChat({ id: newChatPath(), fresh: true })}
              className="rounded-md border border-slate-300 px-2 py-1 text-xs text-slate-700 hover:bg-slate-100"
            >
              New chat
            </button>
            <span className="ml-auto text-xs text-slate-500" data-testid="current-user">
              {session.me.name}
            </span>
            {session.apiKey && (
              <button
                type="button"
                onClick={signOut}
                className="text-xs text-slate-600 underline hover:text-slate-900"
              >
                Sign out
              </button>
            )}
          </header>
          <ChatLoader key={chat.id} chatId={chat.id} fresh={chat.fresh} apiKey={session.apiKey} />
        </div>
      )
  }
}

function chatIdFromPath(): string | null {
  const match = /^\/t\/([A-Za-z0-9_.:-]{1,128})$/.exec(window.location.pathname)
  return match ? match[1] : null
}

function newChatPath(): string {
  const id = generateId()
  window.history.pushState(null, '', `/t/${id}`)
  return id
}
