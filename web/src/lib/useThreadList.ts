import { useCallback, useEffect, useReducer, useState } from 'react'
import { deleteThread, listThreads, renameThread } from './api'
import { emptyThreads, threadsReducer, titleFrom, type ThreadsState } from './threads'

export type ThreadList = ThreadsState & {
  loadError: string | null
  /** Loads the first page again (a turn ended: titles and order may have changed on the server). */
  refresh: () => Promise<void>
  /** A turn was sent in this chat: it moves to the top at once, before the server says so. */
  touch: (id: string, text: string) => void
  /** Renames at once; put back as it was if the server refuses (and the error thrown on). */
  rename: (id: string, title: string) => Promise<void>
  /** Removes at once; put back in its place if the server refuses (and the error thrown on). */
  remove: (id: string) => Promise<void>
  loadMore: () => Promise<void>
}

/** The sidebar's chats: loaded page by page, changed optimistically. */
export function useThreadList(apiKey: string | null): ThreadList {
  const [threads, dispatch] = useReducer(threadsReducer, emptyThreads)
  const [loadError, setLoadError] = useState<string | null>(null)

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

  const touch = useCallback((id: string, text: string) => {
    dispatch({ type: 'touch', id, title: titleFrom(text), at: new Date().toISOString() })
  }, [])

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
    },
    [apiKey, threads.threads],
  )

  const loadMore = useCallback(async () => {
    if (!threads.nextCursor) return
    try {
      dispatch({ type: 'next-page', page: await listThreads(apiKey, threads.nextCursor) })
    } catch (err) {
      setLoadError(err instanceof Error ? err.message : String(err))
    }
  }, [apiKey, threads.nextCursor])

  return { ...threads, loadError, refresh, touch, rename, remove, loadMore }
}
