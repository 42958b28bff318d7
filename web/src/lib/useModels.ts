import { useEffect, useState } from 'react'
import { fetchModels, type Model } from './models'

/** The models the signed-in user may choose, loaded once per key; none while loading or if the list fails
 * (the chat then sends no model and the server uses the thread's, or the default). */
export function useModels(apiKey: string | null): Model[] {
  const [models, setModels] = useState<Model[]>([])
  useEffect(() => {
    const aborted = new AbortController()
    fetchModels(apiKey, aborted.signal).then(setModels, () => !aborted.signal.aborted && setModels([]))
    return () => aborted.abort()
  }, [apiKey])
  return models
}
