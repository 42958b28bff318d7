import { useEffect, useState } from 'react'
import { formatWait, type ChatFailure } from '../lib/errors'

type Props = {
  failure: ChatFailure
  tier: string | null
  onRetry: () => void
  onDismiss: () => void
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (!active) return
    const timer = window.setInterval(() => setNow(Date.now()), 1000)
    return () => window.clearInterval(timer)
  }, [active])
  return now
}

function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}

/** What went wrong, in words, with what the user can do about it. */
export function ErrorNotice({ failure, tier, onRetry, onDismiss }: Props) {
  const waiting = failure.kind === 'rate-limited' && failure.retryAt != null
  const now = useNow(waiting)
  let title: string
  let detail: string | null = null
  let canRetry = true
  let retryLabel = 'Retry'

  switch (failure.kind) {
    case 'rate-limited': {
      const budget = failure.code === 'token_budget_exhausted'
      title = budget ? "You've used today's token budget." : "You're sending messages faster than your plan allows."
      const parts: string[] = []
      if (tier) parts.push(`Your tier: ${tier}${failure.window ? ` (${failure.window})` : ''}.`)
      if (failure.retryAt != null) {
        const left = failure.retryAt - now
        if (left > 0) {
          parts.push(`You can try again in ${formatWait(left)} (at ${clock(failure.retryAt)}).`)
          canRetry = false
          retryLabel = `Retry in ${formatWait(left)}`
        } else {
          parts.push('You can try again now.')
        }
      }
      detail = parts.join(' ')
      break
    }
    case 'busy':
      title = 'This chat is still answering elsewhere.'
      detail = 'Wait for it to finish or stop it, then try again.'
      break
    case 'provider':
      title = "The model couldn't finish this answer."
      detail = failure.message ? `${failure.message}` : null
      retryLabel = 'Try again'
      break
    case 'http':
      title = failure.status >= 500 ? 'The server could not take this message right now.' : 'This message was not accepted.'
      detail = failure.message
      break
    case 'network':
      title = 'The connection dropped.'
      detail = null
      break
  }

  const requestId = failure.kind === 'rate-limited' || failure.kind === 'http' ? failure.requestId : null
  return (
    <div role="alert" data-testid="chat-error" data-kind={failure.kind} className="notice-error">
      <div className="min-w-0 flex-1">
        <p className="font-medium">{title}</p>
        {detail && <p className="mt-0.5" data-testid="chat-error-detail">{detail}</p>}
        {requestId && <p className="mt-0.5 text-xs opacity-70">Request {requestId}</p>}
      </div>
      <div className="flex shrink-0 gap-2">
        <button type="button" data-testid="retry-button" className="btn-primary" onClick={onRetry} disabled={!canRetry}>
          {retryLabel}
        </button>
        <button type="button" className="btn-secondary" onClick={onDismiss} aria-label="Dismiss">
          Dismiss
        </button>
      </div>
    </div>
  )
}
