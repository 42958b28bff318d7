import { useCallback, useEffect, useId, useState, type FormEvent } from 'react'
import { formatDate } from '../lib/account'
import { describeError } from '../lib/http'
import { addMemory, deleteMemory, editMemory, listMemories, type MemoryItem } from '../lib/mind'
import { onLinkClick } from '../lib/nav'
import { ConfirmDialog } from './ConfirmDialog'

const MAX_CHARS = 300 // a fact's limit on the server (parlor/memory/facts.py)

/** What Parlor remembers about the user: each fact with the chat it came from; edit, add, delete. */
export function MemoriesSection({ apiKey }: { apiKey: string | null }) {
  const id = useId()
  const [memories, setMemories] = useState<MemoryItem[] | null>(null)
  const [enabled, setEnabled] = useState(true)
  const [error, setError] = useState<string | null>(null)
  const [deleting, setDeleting] = useState<MemoryItem | null>(null)

  const load = useCallback(async () => {
    try {
      const found = await listMemories(apiKey)
      setMemories(found.memories)
      setEnabled(found.enabled)
      setError(null)
    } catch (err) {
      setError(`Could not load your memories: ${describeError(err)}`)
    }
  }, [apiKey])

  useEffect(() => {
    void load()
  }, [load])

  async function remove(target: MemoryItem) {
    setDeleting(null)
    try {
      await deleteMemory(apiKey, target.id)
    } catch (err) {
      setError(`Could not delete it: ${describeError(err)}`)
    }
    await load()
  }

  return (
    <section className="account-section" aria-labelledby={`${id}-title`} data-testid="memories-section">
      <h3 id={`${id}-title`} className="section-title">Memories</h3>
      <p className="section-lead">
        {enabled
          ? 'Facts Parlor saved about you (when you told it, or here). Every chat of yours sees them.'
          : 'Memory is off on this server: these facts are kept, but no chat sees them.'}
      </p>
      {enabled && <AddMemoryForm apiKey={apiKey} onAdded={() => void load()} />}
      {error && <p role="alert" className="upload-error">{error}</p>}
      {memories === null && !error && <p role="status" className="text-sm text-muted">Loading memories…</p>}
      {memories && memories.length === 0 && <p className="text-sm text-muted">Nothing saved yet.</p>}
      {memories && memories.length > 0 && (
        <ul className="key-list" data-testid="memory-list" aria-label="Saved memories">
          {memories.map((m) => (
            <MemoryRow key={m.id} apiKey={apiKey} memory={m} onChanged={() => void load()}
              onDelete={() => setDeleting(m)} />
          ))}
        </ul>
      )}
      {deleting && (
        <ConfirmDialog title="Delete this memory?" confirmLabel="Delete" onCancel={() => setDeleting(null)}
          onConfirm={() => void remove(deleting)}>
          “{deleting.text}” will be forgotten: no chat will see it again.
        </ConfirmDialog>
      )}
    </section>
  )
}

function AddMemoryForm({ apiKey, onAdded }: { apiKey: string | null; onAdded: () => void }) {
  const id = useId()
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    if (!text.trim()) return
    setBusy(true)
    setError(null)
    try {
      await addMemory(apiKey, text.trim())
      setText('')
      onAdded()
    } catch (err) {
      setError(`Not added: ${describeError(err)}`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="key-form" onSubmit={submit}>
      <div className="field grow">
        <label htmlFor={`${id}-text`}>Add a memory</label>
        <input id={`${id}-text`} data-testid="memory-new" value={text} maxLength={MAX_CHARS}
          placeholder="e.g. Works night shifts." onChange={(e) => setText(e.target.value)} />
      </div>
      <button type="submit" className="btn-primary" data-testid="memory-add" disabled={busy || !text.trim()}>
        {busy ? 'Adding…' : 'Add'}
      </button>
      {error && <p role="alert" className="upload-error basis-full">{error}</p>}
    </form>
  )
}

type RowProps = { apiKey: string | null; memory: MemoryItem; onChanged: () => void; onDelete: () => void }

function MemoryRow({ apiKey, memory, onChanged, onDelete }: RowProps) {
  const id = useId()
  const [editing, setEditing] = useState(false)
  const [text, setText] = useState(memory.text)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await editMemory(apiKey, memory.id, text)
      setEditing(false)
      onChanged()
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }

  function cancel() {
    setEditing(false)
    setText(memory.text)
    setError(null)
  }

  if (editing) {
    return (
      <li className="key-row" data-testid="memory-row" data-memory-id={memory.id}>
        <form className="memory-edit" onSubmit={save} aria-label="Edit the memory">
          <label htmlFor={`${id}-edit`} className="sr-only">Memory text</label>
          <input id={`${id}-edit`} data-testid="memory-edit-input" className="field-input" autoFocus value={text}
            maxLength={MAX_CHARS} onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => { if (e.key === 'Escape') cancel() }} />
          <button type="submit" className="btn-primary" data-testid="memory-save" disabled={busy || !text.trim()}>
            {busy ? 'Saving…' : 'Save'}
          </button>
          <button type="button" className="btn-secondary" onClick={cancel}>Cancel</button>
          {error && <p role="alert" className="upload-error basis-full">{error}</p>}
        </form>
      </li>
    )
  }
  return (
    <li className="key-row" data-testid="memory-row" data-memory-id={memory.id}>
      <div className="min-w-0 flex-1">
        <div className="key-name" data-testid="memory-text">{memory.text}</div>
        <div className="key-facts">
          <span>Saved {formatDate(memory.created_at)}</span>
          {memory.thread ? (
            <a href={`/t/${encodeURIComponent(memory.thread.id)}`} onClick={onLinkClick} data-testid="memory-thread">
              from “{memory.thread.title || 'Untitled chat'}”
            </a>
          ) : (
            <span>{memory.thread_id ? 'from a deleted chat' : 'added by you'}</span>
          )}
        </div>
      </div>
      <button type="button" className="btn-secondary" data-testid="memory-edit" onClick={() => setEditing(true)}
        aria-label={`Edit “${memory.text}”`}>
        Edit
      </button>
      <button type="button" className="btn-secondary" data-testid="memory-delete" onClick={onDelete}
        aria-label={`Delete “${memory.text}”`}>
        Delete
      </button>
    </li>
  )
}
