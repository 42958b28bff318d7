import { useEffect, useState } from 'react'
import { followDocument, settled, type DocumentProgress } from './documents'
import { useApiKey } from './session'

/** The newest state seen per document: a card scrolled out of the (virtualised) list and back keeps it. */
const latest = new Map<string, DocumentProgress>()

/** A document's progress, followed live from its events stream until it is ready, failed or deleted. */
export function useDocumentProgress(id: string, initial: DocumentProgress): DocumentProgress {
  const key = useApiKey()
  const [state, setState] = useState<DocumentProgress>(() => latest.get(id) ?? initial)
  const done = settled(state.status)

  useEffect(() => {
    if (done) return
    const controller = new AbortController()
    void followDocument(key, id, (progress) => {
      latest.set(id, progress)
      setState(progress)
    }, controller.signal)
    return () => controller.abort()
  }, [id, key, done])

  return state
}
