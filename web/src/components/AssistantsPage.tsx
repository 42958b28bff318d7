import { useCallback, useEffect, useState, type CSSProperties } from 'react'
import { deleteAssistant, listAssistants, type Assistant } from '../lib/assistants'
import { describeError } from '../lib/http'
import { onLinkClick } from '../lib/nav'
import { useApiKey } from '../lib/session'
import { AssistantAvatar } from './AssistantAvatar'
import { ConfirmDialog } from './ConfirmDialog'

type Props = {
  /** Starts a new chat with this assistant. */
  onChat: (assistantId: string) => void
}

const SHARED: Record<Assistant['visibility'], string> = { private: 'Only you', public: 'Everyone', groups: 'Groups' }

/** The assistants the user may use (theirs, shared with everyone or with a group of theirs): chat, edit, delete. */
export default function AssistantsPage({ onChat }: Props) {
  const key = useApiKey()
  const [assistants, setAssistants] = useState<Assistant[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<Assistant | null>(null)

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setAssistants(await listAssistants(key, signal))
      setError(null)
    } catch (err) {
      if (!signal?.aborted) setError(`Could not load the assistants: ${describeError(err)}`)
    }
  }, [key])

  useEffect(() => {
    const aborted = new AbortController()
    void load(aborted.signal)
    return () => aborted.abort()
  }, [load])

  async function remove(target: Assistant) {
    setDeleting(null)
    setAssistants((all) => all?.filter((a) => a.id !== target.id) ?? null)
    try {
      await deleteAssistant(key, target.id)
    } catch (err) {
      setError(`Delete failed: ${describeError(err)}`)
      await load()
    }
  }

  return (
    <div className="page-scroll" data-testid="assistants-page">
      <div className="page">
        <div className="page-head">
          <h2 className="page-title">Assistants</h2>
          <a href="/assistants/new" className="btn-primary" data-testid="new-assistant" onClick={onLinkClick}>
            New assistant
          </a>
        </div>
        <p className="page-lead">
          An assistant is a chat set up for a job: its instructions, its model, the tools it may use and the documents it
          knows. Share yours with everyone or with a group.
        </p>
        {error && <p role="alert" className="upload-error">{error}</p>}
        {assistants === null && !error && <p role="status" className="text-sm text-muted">Loading assistants…</p>}
        {assistants?.length === 0 && (
          <p className="text-sm text-muted">No assistants yet. Make one, or ask a colleague to share theirs.</p>
        )}
        {assistants && assistants.length > 0 && (
          <ul className="assistant-grid" data-testid="assistant-list" aria-label="Assistants">
            {assistants.map((a) => (
              <AssistantCard key={a.id} assistant={a} onChat={() => onChat(a.id)} onDelete={() => setDeleting(a)} />
            ))}
          </ul>
        )}
      </div>
      {deleting && (
        <ConfirmDialog title="Delete this assistant?" confirmLabel="Delete" onCancel={() => setDeleting(null)}
          onConfirm={() => void remove(deleting)}>
          “{deleting.name}” and its documents will be deleted for everyone it is shared with. Chats with it stay
          readable, but cannot go on. This cannot be undone.
        </ConfirmDialog>
      )}
    </div>
  )
}

function AssistantCard({ assistant: a, onChat, onDelete }: { assistant: Assistant; onChat: () => void;
  onDelete: () => void }) {
  return (
    <li className="assistant-card" data-testid="assistant-card" data-assistant-id={a.id}
      style={{ '--card-color': a.color } as CSSProperties}>
      <div className="assistant-card-head">
        <AssistantAvatar assistant={a} />
        <div className="min-w-0">
          <h3 className="assistant-name">{a.name}</h3>
          <div className="assistant-owner">
            {a.mine ? 'Yours' : `By ${a.owner.name}`} · {a.visibility === 'groups' && a.groups.length
              ? a.groups.map((g) => g.name).join(', ') : SHARED[a.visibility]}
          </div>
        </div>
      </div>
      <p className="assistant-description">{a.description || 'No description.'}</p>
      <div className="assistant-actions">
        <button type="button" className="btn-primary" aria-label={`Chat with ${a.name}`} onClick={onChat}>
          Chat
        </button>
        {a.mine && (
          <>
            <a href={`/assistants/${a.id}`} className="btn-secondary" aria-label={`Edit ${a.name}`} onClick={onLinkClick}>
              Edit
            </a>
            <button type="button" className="btn-secondary" aria-label={`Delete ${a.name}`} onClick={onDelete}>
              Delete
            </button>
          </>
        )}
      </div>
    </li>
  )
}
