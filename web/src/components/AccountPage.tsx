import { useState } from 'react'
import { deleteAccount, fetchExport, saveBlob } from '../lib/account'
import type { Me } from '../lib/api'
import { describeError } from '../lib/http'
import { useApiKey } from '../lib/session'
import { ApiKeys } from './ApiKeys'
import { ConfirmDialog } from './ConfirmDialog'
import { InstructionsSection } from './InstructionsSection'
import { MemoriesSection } from './MemoriesSection'
import { UsageSection } from './UsageSection'

type Props = {
  me: Me
  /** The account or this browser's key is gone: sign out, saying why. */
  onSignedOut: (message: string) => void
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err))

/** Who you are, your API keys, and your data: export it, or delete the account with everything it owns. */
export default function AccountPage({ me, onSignedOut }: Props) {
  const apiKey = useApiKey()
  const authOff = apiKey === null // PARLOR_AUTH=off: one shared local account, no keys to speak of
  return (
    <div className="page-scroll" data-testid="account-page">
      <div className="page">
        <div className="page-head">
          <h2 className="page-title">Your account</h2>
        </div>
        <dl className="who" data-testid="account-who">
          <div>
            <dt>Name</dt>
            <dd data-testid="account-name">{me.name}</dd>
          </div>
          <div>
            <dt>Tier</dt>
            <dd><span className="tier">{me.tier}</span></dd>
          </div>
          <div>
            <dt>Role</dt>
            <dd>{me.role}</dd>
          </div>
        </dl>
        {authOff ? (
          <p className="page-lead">
            This server runs without sign-in (<code>PARLOR_AUTH=off</code>): everyone shares this account, so it has
            no keys to manage and cannot be deleted.
          </p>
        ) : (
          <ApiKeys apiKey={apiKey}
            onCurrentRevoked={() => onSignedOut('You revoked the key this browser used: sign in again.')} />
        )}
        <InstructionsSection apiKey={apiKey} />
        <MemoriesSection apiKey={apiKey} />
        <UsageSection apiKey={apiKey} />
        <ExportData apiKey={apiKey} />
        {!authOff && <DeleteAccount apiKey={apiKey} name={me.name} onDeleted={() =>
          onSignedOut('Your account and everything it held were deleted.')} />}
      </div>
    </div>
  )
}

function ExportData({ apiKey }: { apiKey: string | null }) {
  const [state, setState] = useState<{ busy: boolean; done: string | null; error: string | null }>(
    { busy: false, done: null, error: null })
  async function run() {
    setState({ busy: true, done: null, error: null })
    try {
      const { filename, blob } = await fetchExport(apiKey)
      saveBlob(blob, filename)
      setState({ busy: false, done: `Downloaded ${filename}.`, error: null })
    } catch (err) {
      setState({ busy: false, done: null, error: `Export failed: ${describeError(err)}` })
    }
  }
  return (
    <section className="account-section" aria-labelledby="export-title">
      <h3 id="export-title" className="section-title">Your data</h3>
      <p className="section-lead">
        One JSON file with everything Parlor holds about you: your chats and their messages, your documents’ details,
        what it remembers about you, your usage and your keys’ details (never the keys).
      </p>
      <button type="button" className="btn-secondary" data-testid="export-data" disabled={state.busy}
        onClick={() => void run()}>
        {state.busy ? 'Preparing…' : 'Export my data'}
      </button>
      <p role="status" className="mt-2 text-sm text-muted">{state.done}</p>
      {state.error && <p role="alert" className="upload-error">{state.error}</p>}
    </section>
  )
}

function DeleteAccount({ apiKey, name, onDeleted }: { apiKey: string | null; name: string; onDeleted: () => void }) {
  const [open, setOpen] = useState(false)
  const [typed, setTyped] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function confirm() {
    setBusy(true)
    setError(null)
    try {
      await deleteAccount(apiKey, typed)
    } catch (err) {
      setError(errorText(err))
      setBusy(false)
      return
    }
    onDeleted()
  }

  function close() {
    if (busy) return
    setOpen(false)
    setTyped('')
    setError(null)
  }

  return (
    <section className="account-section danger-zone" aria-labelledby="delete-title">
      <h3 id="delete-title" className="section-title">Delete your account</h3>
      <p className="section-lead">
        Deletes your account and everything it owns (chats, documents and their index, memories, usage, keys) at once.
        It cannot be undone: export your data first if you want a copy.
      </p>
      <button type="button" className="btn-danger" data-testid="delete-account" onClick={() => setOpen(true)}>
        Delete my account…
      </button>
      {open && (
        <ConfirmDialog title="Delete your account?" confirmLabel={busy ? 'Deleting…' : 'Delete my account'}
          confirmDisabled={busy || typed !== name} focusConfirm={false} onCancel={close}
          onConfirm={() => void confirm()}>
          <p>Everything you have in Parlor is deleted for good, and every key of yours stops working.</p>
          <form className="mt-3" onSubmit={(e) => {
            e.preventDefault()
            if (typed === name && !busy) void confirm()
          }}>
            <label htmlFor="delete-confirm" className="block text-fg">
              Type your account name, <strong className="select-all">{name}</strong>, to confirm
            </label>
            <input id="delete-confirm" data-testid="delete-confirm-input" className="field-input mt-1" autoFocus
              autoComplete="off" spellCheck={false} value={typed} onChange={(e) => setTyped(e.target.value)} />
          </form>
          {error && <p role="alert" className="upload-error mt-2">{error}</p>}
        </ConfirmDialog>
      )}
    </section>
  )
}
