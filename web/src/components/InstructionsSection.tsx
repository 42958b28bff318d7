import { useEffect, useId, useState, type FormEvent } from 'react'
import { describeError } from '../lib/http'
import { fetchInstructions, saveInstructions, type Instructions } from '../lib/mind'

/** Custom instructions: what the model should know about the user, and how they want answers. Both go into
 * every one of their chats' system prompts, within the server's token bound (checked when saved). */
export function InstructionsSection({ apiKey }: { apiKey: string | null }) {
  const id = useId()
  const [saved, setSaved] = useState<Instructions | null>(null)
  const [about, setAbout] = useState('')
  const [style, setStyle] = useState('')
  const [busy, setBusy] = useState(false)
  const [status, setStatus] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    const controller = new AbortController()
    fetchInstructions(apiKey, controller.signal).then((found) => {
      setSaved(found)
      setAbout(found.about)
      setStyle(found.style)
    }, (err: unknown) => {
      if (!controller.signal.aborted) setError(`Could not load your instructions: ${describeError(err)}`)
    })
    return () => controller.abort()
  }, [apiKey])

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    setBusy(true)
    setError(null)
    setStatus(null)
    try {
      const next = await saveInstructions(apiKey, about, style)
      setSaved(next)
      setAbout(next.about)
      setStyle(next.style)
      setStatus(next.tokens ? `Saved: ${next.tokens} of ${next.max_tokens} tokens.` : 'Cleared.')
    } catch (err) {
      setError(`Not saved: ${describeError(err)}`)
    } finally {
      setBusy(false)
    }
  }

  const maxChars = saved?.max_chars ?? 1500
  const changed = saved !== null && (about !== saved.about || style !== saved.style)
  return (
    <section className="account-section" aria-labelledby={`${id}-title`} data-testid="instructions-section">
      <h3 id={`${id}-title`} className="section-title">Custom instructions</h3>
      <p className="section-lead">
        Every chat starts with these, so you don’t have to repeat yourself.
        {saved && ` Together they may take up to ${saved.max_tokens} tokens (now ${saved.tokens}).`}
      </p>
      <form className="instructions-form" onSubmit={submit} aria-label="Custom instructions">
        <div className="field">
          <label htmlFor={`${id}-about`}>What should Parlor know about you?</label>
          <textarea id={`${id}-about`} data-testid="instructions-about" className="field-textarea" rows={3}
            maxLength={maxChars} value={about} disabled={saved === null} aria-describedby={`${id}-about-count`}
            placeholder="e.g. I teach chemistry at a secondary school." onChange={(e) => setAbout(e.target.value)} />
          <span id={`${id}-about-count`} className="char-count">{about.length} / {maxChars} characters</span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-style`}>How should it answer?</label>
          <textarea id={`${id}-style`} data-testid="instructions-style" className="field-textarea" rows={3}
            maxLength={maxChars} value={style} disabled={saved === null} aria-describedby={`${id}-style-count`}
            placeholder="e.g. Short answers, metric units, no emoji." onChange={(e) => setStyle(e.target.value)} />
          <span id={`${id}-style-count`} className="char-count">{style.length} / {maxChars} characters</span>
        </div>
        <div className="flex items-center gap-3">
          <button type="submit" className="btn-primary" data-testid="instructions-save" disabled={busy || !changed}>
            {busy ? 'Saving…' : 'Save instructions'}
          </button>
          <p role="status" className="text-sm text-muted" data-testid="instructions-status">{status}</p>
        </div>
        {error && <p role="alert" className="upload-error">{error}</p>}
      </form>
    </section>
  )
}
