import { useState, type FormEvent } from 'react'
import { SSO_LOGIN_PATH } from '../lib/account'

type Props = {
  /** Checks the key; resolves to an error message to show, or null when accepted. */
  onSubmit: (key: string) => Promise<string | null>
  initialError?: string | null
  /** The server offers single sign-on (OpenID Connect): show its button first. */
  sso?: boolean
}

export default function SignIn({ onSubmit, initialError = null, sso = false }: Props) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(initialError)
  const [busy, setBusy] = useState(false)

  async function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    const trimmed = key.trim()
    if (!trimmed) return
    setBusy(true)
    setError(null)
    try {
      setError(await onSubmit(trimmed))
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="flex min-h-dvh items-center justify-center bg-panel p-4">
      <form
        onSubmit={handleSubmit}
        className="w-full max-w-sm space-y-4 rounded-2xl border border-border bg-surface p-6 shadow-sm"
        aria-labelledby="signin-title"
      >
        <div>
          <h1 id="signin-title" className="text-lg font-semibold text-fg">
            Sign in to Parlor
          </h1>
          <p className="mt-1 text-sm text-muted">
            {sso
              ? 'Sign in with your organisation’s account, or paste an API key. Either stays in this browser.'
              : 'Paste the API key your administrator gave you. It stays in this browser.'}
          </p>
        </div>
        {sso && (
          <>
            {/* A plain link: the server sends the browser on to the identity provider and back with a key. */}
            <a href={SSO_LOGIN_PATH} data-testid="sso-button" className="btn-primary block w-full py-2 text-center">
              Sign in with SSO
            </a>
            <p className="signin-or" aria-hidden="true">or use an API key</p>
          </>
        )}
        <div className="space-y-1">
          <label htmlFor="signin-key" className="block text-sm font-medium text-fg">
            API key
          </label>
          <input
            id="signin-key"
            data-testid="signin-key"
            type="password"
            autoComplete="current-password"
            autoFocus={!sso}
            required
            value={key}
            onChange={(e) => setKey(e.target.value)}
            className="w-full rounded-lg border border-border bg-bg px-3 py-2 text-sm text-fg"
          />
        </div>
        {error && (
          <p role="alert" data-testid="signin-error" className="text-sm text-danger">
            {error}
          </p>
        )}
        <button
          type="submit"
          data-testid="signin-button"
          disabled={busy || !key.trim()}
          className={(sso ? 'btn-secondary' : 'btn-primary') + ' w-full py-2'}
        >
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
