import type { Thread, ThreadPage } from './api'

/** The sidebar's list: loaded pages of threads, newest first, plus optimistic local changes. */
export type ThreadsState = {
  threads: Thread[]
  nextCursor: string | null
  loaded: boolean
}

export const emptyThreads: ThreadsState = { threads: [], nextCursor: null, loaded: false }

export type ThreadsAction =
  /** The first page, fresh from the server: it wins over what we had for the threads it holds. */
  | { type: 'first-page'; page: ThreadPage }
  | { type: 'next-page'; page: ThreadPage }
  /** A thread just written to (a turn started): it moves to the top; a new one is added with its title. */
  | { type: 'touch'; id: string; title: string; at: string }
  | { type: 'rename'; id: string; title: string }
  | { type: 'remove'; id: string }
  /** Undo of an optimistic change that the server refused. */
  | { type: 'restore'; thread: Thread; index: number }

function newestFirst(a: Thread, b: Thread): number {
  if (a.updated_at === b.updated_at) return a.id < b.id ? 1 : -1
  return a.updated_at < b.updated_at ? 1 : -1
}

export function threadsReducer(state: ThreadsState, action: ThreadsAction): ThreadsState {
  switch (action.type) {
    case 'first-page': {
      const fresh = new Set(action.page.threads.map((t) => t.id))
      // Keep older pages already loaded (those not in the fresh first page), in order.
      const rest = state.loaded ? state.threads.filter((t) => !fresh.has(t.id)) : []
      const oldestFresh = action.page.threads[action.page.threads.length - 1]
      const kept = oldestFresh ? rest.filter((t) => newestFirst(t, oldestFresh) > 0) : rest
      return {
        threads: [...action.page.threads, ...kept],
        nextCursor: state.loaded && kept.length ? state.nextCursor : action.page.next_cursor,
        loaded: true,
      }
    }
    case 'next-page': {
      const known = new Set(state.threads.map((t) => t.id))
      return {
        threads: [...state.threads, ...action.page.threads.filter((t) => !known.has(t.id))],
        nextCursor: action.page.next_cursor,
        loaded: true,
      }
    }
    case 'touch': {
      const existing = state.threads.find((t) => t.id === action.id)
      const thread: Thread = existing
        ? { ...existing, updated_at: action.at }
        : { id: action.id, title: action.title, created_at: action.at, updated_at: action.at }
      return { ...state, threads: [thread, ...state.threads.filter((t) => t.id !== action.id)] }
    }
    case 'rename':
      return {
        ...state,
        threads: state.threads.map((t) => (t.id === action.id ? { ...t, title: action.title } : t)),
      }
    case 'remove':
      return { ...state, threads: state.threads.filter((t) => t.id !== action.id) }
    case 'restore': {
      const threads = state.threads.filter((t) => t.id !== action.thread.id)
      threads.splice(Math.min(action.index, threads.length), 0, action.thread)
      return { ...state, threads }
    }
  }
}

/**
 * Client-side search over the titles already loaded (the server has no search endpoint yet):
 * every word of the query must appear in the title, in any case.
 */
export function filterThreads(threads: Thread[], query: string): Thread[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
  if (!words.length) return threads
  return threads.filter((t) => {
    const title = (t.title || '').toLowerCase()
    return words.every((w) => title.includes(w))
  })
}

/** The server's title for a new thread: the first 80 characters of its first message. */
export function titleFrom(text: string): string {
  return text.slice(0, 80)
}
