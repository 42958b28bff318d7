import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react'
import {
  createKey,
  EXPIRY_CHOICES,
  formatDate,
  keyState,
  listKeys,
  revokeKey,
  type KeyInfo,
  type NewKey,
} from '../lib/account'
import { copyText } from '../lib/clipboard'
import { ConfirmDialog } from './ConfirmDialog'

type Props = {
  apiKey: string | null
  /** The key this browser signs in with was revoked: the session is over. */
  onCurrentRevoked: () => void
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err))

/** The user's API keys: the active ones (newest first), a new one (shown once), revoke with a confirmation. */
export function ApiKeys({ apiKey, onCurrentRevoked }: Props) {
  const [keys, setKeys] = useState<KeyInfo[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [created, setCreated] = useState<NewKey | null>(null)
  const [revoking, setRevoking] = useState<KeyInfo | null>(null)

  const load = useCallback(async () => {
    try {
      setKeys(await listKeys(apiKey))
      setError(null)
    } catch (err) {
      setError(`Could not load your keys: ${errorText(err)}`)
    }
  }, [apiKey])

  useEffect(() => {
    void load()
  }, [load])

  async function revoke(target: KeyInfo) {
    setRevoking(null)
    setError(null)
    try {
      await revokeKey(apiKey, target.id)
    } catch (err) {
      setError(`Could not revoke “${target.name || target.prefix}”: ${errorText(err)}`)
      return
    }
    if (target.current) return onCurrentRevoked()
    if (created?.id === target.id) setCreated(null)
    await load()
  }

  const newestFirst = [...(keys ?? [])].reverse()
  const active = newestFirst.filter((k) => keyState(k) === 'active')
  const inactive = newestFirst.filter((k) => keyState(k) !== 'active')

  return (
    <section className="account-section" aria-labelledby="keys-title" data-testid="api-keys">
      <h3 id="keys-title" className="section-title">API keys</h3>
      <p className="section-lead">
        Keys let scripts and other apps (any OpenAI client, at <code>/v1</code>) act as you. Revoke one you no longer
        use or that may have leaked.
      </p>
      {created && <NewKeyNotice created={created} onDone={() => setCreated(null)} />}
      <CreateKeyForm apiKey={apiKey} onCreated={(k) => {
        setCreated(k)
        void load()
      }} />
      {error && <p role="alert" className="upload-error">{error}</p>}
      {keys === null && !error && <p role="status" className="text-sm text-muted">Loading keys…</p>}
      {keys && active.length === 0 && <p className="text-sm text-muted">No active keys.</p>}
      {active.length > 0 && (
        <ul className="key-list" data-testid="key-list" aria-label="Active keys">
          {active.map((k) => <KeyRow key={k.id} info={k} onRevoke={() => setRevoking(k)} />)}
        </ul>
      )}
      {inactive.length > 0 && (
        <details className="mt-3">
          <summary className="text-sm text-muted">
            {inactive.length} revoked or expired key{inactive.length === 1 ? '' : 's'}
          </summary>
          <ul className="key-list mt-2" aria-label="Revoked and expired keys">
            {inactive.map((k) => <KeyRow key={k.id} info={k} />)}
          </ul>
        </details>
      )}
      {revoking && (
        <ConfirmDialog title="Revoke this key?" confirmLabel="Revoke" onCancel={() => setRevoking(null)}
          onConfirm={() => void revoke(revoking)}>
          “{revoking.name || 'Unnamed key'}” ({revoking.prefix}…) will stop working at once, everywhere it is used.
          {revoking.current && ' This browser signs in with it: you will be signed out.'}
        </ConfirmDialog>
      )}
    </section>
  )
}

function KeyRow({ info, onRevoke }: { info: KeyInfo; onRevoke?: () => void }) {
  const state = keyState(info)
  const name = info.name || 'Unnamed key'
  const expiry = state === 'revoked' ? `Revoked ${formatDate(info.revoked_at)}`
    : state === 'expired' ? `Expired ${formatDate(info.expires_at)}`
    : info.expires_at ? `Expires ${formatDate(info.expires_at)}` : 'Never expires'
  return (
    <li className="key-row" data-testid="key-row" data-key-id={info.id} data-state={state}>
      <div className="min-w-0 flex-1">
        <div className="flex flex-wrap items-center gap-2">
          <span className="key-name">{name}</span>
          {info.current && <span className="badge" data-testid="current-key">This browser</span>}
          {state !== 'active' && <span className="badge badge-muted">{state}</span>}
        </div>
        <div className="key-facts">
          <code>{info.prefix}…</code>
          <span>Created {formatDate(info.created_at)}</span>
          <span>{expiry}</span>
          {info.last_used_at !== undefined && <span>Last used {formatDate(info.last_used_at, 'never')}</span>}
        </div>
      </div>
      {onRevoke && (
        <button type="button" className="btn-secondary" data-testid="revoke-key" onClick={onRevoke}
          aria-label={`Revoke “${name}”`}>
          Revoke
        </button>
      )}
    </li>
  )
}

function CreateKeyForm({ apiKey, onCreated }: { apiKey: string | null; onCreated: (k: NewKey) => void }) {
  const id = useId()
  const [name, setName] = useState('')
  const [days, setDays] = useState(String(EXPIRY_CHOICES[0].days))
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      onCreated(await createKey(apiKey, name, days === 'null' ? null : Number(days)))
      setName('')
    } catch (err) {
      setError(`Could not create the key: ${errorText(err)}`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="key-form" onSubmit={submit} aria-label="Create an API key">
      <div className="field grow">
        <label htmlFor={`${id}-name`}>Name</label>
        <input id={`${id}-name`} data-testid="key-name" value={name} maxLength={100}
          placeholder="e.g. laptop script" onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-expiry`}>Expires after</label>
        <select id={`${id}-expiry`} data-testid="key-expiry" value={days} onChange={(e) => setDays(e.target.value)}>
          {EXPIRY_CHOICES.map((c) => <option key={c.label} value={String(c.days)}>{c.label}</option>)}
        </select>
      </div>
      <button type="submit" className="btn-primary" data-testid="create-key" disabled={busy}>
        {busy ? 'Creating…' : 'Create key'}
      </button>
      {error && <p role="alert" className="upload-error basis-full">{error}</p>}
    </form>
  )
}

/** The new key, once: copy it now. Focus moves here so keyboard and screen-reader users meet it first. */
function NewKeyNotice({ created, onDone }: { created: NewKey; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null)
  const [copied, setCopied] = useState<boolean | null>(null)
  useEffect(() => {
    heading.current?.focus()
  }, [created.id])
  return (
    <div className="new-key" data-testid="new-key" role="region" aria-labelledby="new-key-title">
      <h4 id="new-key-title" ref={heading} tabIndex={-1} className="font-semibold">
        New key “{created.name || 'Unnamed key'}” created
      </h4>
      <p className="mt-1 text-sm">
        <strong>Copy it now: you won’t see it again.</strong> Parlor keeps only a fingerprint of it, so nobody (not
        even an administrator) can show it to you later.
      </p>
      <div className="key-reveal">
        <input readOnly aria-label="Your new API key" data-testid="new-key-value" value={created.api_key}
          onFocus={(e) => e.currentTarget.select()} spellCheck={false} />
        <button type="button" className="btn-primary" data-testid="copy-new-key"
          onClick={async () => setCopied(await copyText(created.api_key))}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <p className="sr-only" aria-live="polite">
        {copied === true ? 'Key copied to the clipboard' : copied === false ? 'Copy failed: select the key and copy it' : ''}
      </p>
      {copied === false && <p className="text-sm text-danger">Could not copy: select the key and copy it.</p>}
      <div className="mt-3 flex justify-end">
        <button type="button" className="btn-secondary" data-testid="new-key-done" onClick={onDone}>
          I’ve saved it
        </button>
      </div>
    </div>
  )
}
