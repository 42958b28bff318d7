import { useState, type FormEvent } from 'react'

type Props = {
  /** Checks the key; resolves to an error message to show, or null when accepted. */
  onSubmit: (key: string) => Promise<string | null>
  initialError?: string | null
}

export default function SignIn({ onSubmit, initialError = null }: Props) {
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
    <main className="flex min-h-dvh items-center justify-center bg-slate-50 p-4">
      <form
        onSubmit={handleSubmit}
        className="w-full max-w-sm space-y-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm"
      >
        <h1 className="text-lg font-semibold text-slate-900">Sign in to Parlor</h1>
        <div className="space-y-1">
          <label htmlFor="signin-key" className="block text-sm font-medium text-slate-700">
            API key
          </label>
          <input
            id="signin-key"
            data-testid="signin-key"
            type="password"
            autoComplete="current-password"
            autoFocus
            required
            value={key}
            onChange={(e) => setKey(e.target.value)}
            className="w-full rounded-md border border-slate-300 px-3 py-2 text-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
          />
        </div>
        {error && (
          <p role="alert" data-testid="signin-error" className="text-sm text-red-700">
            {error}
          </p>
        )}
        <button
          type="submit"
          data-testid="signin-button"
          disabled={busy || !key.trim()}
          className="w-full rounded-md bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50"
        >
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
