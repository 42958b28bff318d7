import { useEffect, useState } from 'react'
import { fetchShared, type SharedResult } from '../lib/shares'
import { Message } from './Message'

type State = { kind: 'loading' } | SharedResult | { kind: 'failed'; message: string }

/**
 * A shared chat (`/s/{token}`), for anyone with the link, signed in or not: the messages as they were when
 * it was shared, read only (no composer, no actions but copying), its images from the link's own route.
 */
export default function SharedChat({ token }: { token: string }) {
  const [state, setState] = useState<State>({ kind: 'loading' })
  useEffect(() => {
    const abort = new AbortController()
    fetchShared(token, abort.signal).then(setState).catch((err: unknown) => {
      if (!abort.signal.aborted) setState({ kind: 'failed', message: err instanceof Error ? err.message : String(err) })
    })
    return () => abort.abort()
  }, [token])

  const title = state.kind === 'ok' ? state.chat.title || 'Shared chat' : state.kind === 'gone' ? 'Not shared' : 'Shared chat'
  useEffect(() => {
    document.title = `${title} · Parlor`
  }, [title])

  return (
    <div className="app">
      <main className="chat-column" data-testid="shared-chat">
        <header className="chat-header">
          <h1 className="chat-title" data-testid="chat-title">{title}</h1>
        </header>
        {state.kind === 'loading' && <p className="p-6 text-sm text-muted" role="status">Loading…</p>}
        {state.kind === 'failed' && (
          <p role="alert" className="p-6 text-sm text-danger">Could not load this chat: {state.message}</p>
        )}
        {state.kind === 'gone' && (
          <div className="flex flex-1 flex-col items-center justify-center px-6 text-center" data-testid="share-gone">
            <h2 className="text-xl font-semibold">This link is no longer shared</h2>
            <p className="mt-2 text-sm text-muted">Its owner revoked it, or it never existed.</p>
          </div>
        )}
        {state.kind === 'ok' && (
          <>
            <p className="banner-info" data-testid="shared-banner">
              Shared conversation — read only · shared{' '}
              {new Date(state.chat.created_at).toLocaleDateString(undefined, { dateStyle: 'medium' })}
            </p>
            <div className="min-h-0 flex-1 overflow-y-auto" data-testid="shared-messages">
              <div className="mx-auto w-full max-w-3xl px-3 pt-4 pb-8 sm:px-6">
                {state.chat.messages.map((message) => (
                  <div key={message.id} className="pb-4">
                    <Message message={message} streaming={false} readOnly
                      status={(message.metadata as { status?: string } | undefined)?.status} />
                  </div>
                ))}
              </div>
            </div>
          </>
        )}
      </main>
    </div>
  )
}
