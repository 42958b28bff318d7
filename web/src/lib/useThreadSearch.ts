import { useCallback, useEffect, useState } from 'react'
import { listThreads, type Thread } from './api'

export type SearchState = {
  /** null: no search (or its first answer is not in yet). */
  results: Thread[] | null
  searching: boolean
  error: string | null
  hasMore: boolean
  loadMore: () => void
}

const DEBOUNCE_MS = 250

/** The server's search over the caller's threads (titles and messages), asked once typing pauses. */
export function useThreadSearch(key: string | null, query: string, debounceMs = DEBOUNCE_MS): SearchState {
  const [state, setState] = useState<{ q: string; results: Thread[]; cursor: string | null } | null>(null)
  const [searching, setSearching] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const q = query.trim()

  useEffect(() => {
    if (!q) {
      setState(null)
      setSearching(false)
      setError(null)
      return
    }
    const controller = new AbortController()
    setSearching(true)
    const timer = window.setTimeout(() => {
      listThreads(key, null, 30, q, controller.signal)
        .then((page) => {
          setState({ q, results: page.threads, cursor: page.next_cursor })
          setError(null)
        })
        .catch((err: unknown) => {
          if (!controller.signal.aborted) setError(err instanceof Error ? err.message : String(err))
        })
        .finally(() => !controller.signal.aborted && setSearching(false))
    }, debounceMs)
    return () => {
      controller.abort()
      window.clearTimeout(timer)
    }
  }, [key, q, debounceMs])

  const loadMore = useCallback(() => {
    if (!state?.cursor) return
    const { q: asked, cursor } = state
    listThreads(key, cursor, 30, asked)
      .then((page) => setState((s) => (s && s.q === asked
        ? { q: asked, results: [...s.results, ...page.threads], cursor: page.next_cursor } : s)))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
  }, [key, state])

  const current = state && state.q === q ? state : null
  return { results: current?.results ?? null, searching, error, hasMore: !!current?.cursor, loadMore }
}
