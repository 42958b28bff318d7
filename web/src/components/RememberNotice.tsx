import { useState } from 'react'
import { describeError } from '../lib/http'
import { deleteMemory } from '../lib/mind'
import { useApiKey } from '../lib/session'

/** The `remember` tool's result: `{saved, new, client: {memory_id}}` (`client`: ours, never the model's); null
 * for anything else. */
export function savedMemory(output: unknown): { text: string; id: string } | null {
  if (!output || typeof output !== 'object') return null
  const { saved, client } = output as { saved?: unknown; client?: { memory_id?: unknown } }
  const id = client?.memory_id
  return typeof saved === 'string' && typeof id === 'string' ? { text: saved, id } : null
}

type State = 'saved' | 'undoing' | 'undone'

/** "Saved to memory: <fact>" under the tool's card, with Undo (which forgets that fact at once). */
export function RememberNotice({ memory }: { memory: { text: string; id: string } }) {
  const apiKey = useApiKey()
  const [state, setState] = useState<State>('saved')
  const [error, setError] = useState<string | null>(null)

  async function undo() {
    setState('undoing')
    setError(null)
    try {
      await deleteMemory(apiKey, memory.id)
      setState('undone')
    } catch (err) {
      // already gone (deleted on the account page, or undone in another tab): that is what Undo wanted
      if ((err as { status?: number }).status === 404) return setState('undone')
      setError(`Could not undo: ${describeError(err)}`)
      setState('saved')
    }
  }

  return (
    <div className="remember-notice" data-testid="remember-notice" data-state={state}>
      <p role="status" className="min-w-0 flex-1">
        {state === 'undone' ? <>Forgotten: <s>{memory.text}</s></> : <>Saved to memory: <strong>{memory.text}</strong></>}
      </p>
      {state !== 'undone' && (
        <button type="button" className="btn-secondary btn-small" data-testid="remember-undo"
          disabled={state === 'undoing'} onClick={() => void undo()} aria-label={`Undo: forget “${memory.text}”`}>
          {state === 'undoing' ? 'Undoing…' : 'Undo'}
        </button>
      )}
      {error && <p role="alert" className="upload-error basis-full">{error}</p>}
    </div>
  )
}
