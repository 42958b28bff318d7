import { useEffect, useState } from 'react'
import { getAssistant, type ChatAssistant } from './assistants'
import { ApiError, describeError } from './http'

export type ChatAssistantState =
  | { state: 'none' }
  | { state: 'loading' }
  | { state: 'ready'; assistant: ChatAssistant }
  /** Not (or no longer) visible to this user, or not reachable: why, in words. */
  | { state: 'unavailable'; message: string }

type Settled = { id: string; result: Extract<ChatAssistantState, { state: 'ready' | 'unavailable' }> }

/** The assistant of a chat (id null: none, or not known yet), fetched in full: an empty chat's welcome shows
 * its description and starters. */
export function useChatAssistant(key: string | null, id: string | null): ChatAssistantState {
  const [settled, setSettled] = useState<Settled | null>(null)
  useEffect(() => {
    if (!id) return
    const aborted = new AbortController()
    getAssistant(key, id, aborted.signal).then(
      (assistant) => setSettled({ id, result: { state: 'ready', assistant } }),
      (err: unknown) => {
        if (aborted.signal.aborted) return
        const message = err instanceof ApiError && err.status === 404
          ? 'This assistant is not available to you any more (it was deleted, or is no longer shared with you).'
          : `Could not load the assistant: ${describeError(err)}`
        setSettled({ id, result: { state: 'unavailable', message } })
      })
    return () => aborted.abort()
  }, [key, id])
  if (!id) return { state: 'none' }
  // An answer for another id (the one before) is no answer for this one.
  return settled?.id === id ? settled.result : { state: 'loading' }
}
