import type { ReasoningUIPart } from 'ai'

/** How long the model thought, as the server measured it (`providerMetadata.parlor.durationMs`). */
export function thoughtMs(part: ReasoningUIPart): number | null {
  const ms = (part.providerMetadata?.parlor as { durationMs?: unknown } | undefined)?.durationMs
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : null
}

/** "Thinking…" while it streams, then "Thought for 4 s" (or "1 min 5 s"); "Reasoning" if never measured. */
export function reasoningLabel(part: ReasoningUIPart): string {
  if (part.state === 'streaming') return 'Thinking…'
  const ms = thoughtMs(part)
  if (ms === null) return 'Reasoning'
  const seconds = Math.max(1, Math.round(ms / 1000))
  const minutes = Math.floor(seconds / 60)
  return `Thought for ${minutes ? `${minutes} min ${seconds % 60} s` : `${seconds} s`}`
}

/** A model's reasoning, folded under its label: the reader opens it if they want to read it. */
export function Reasoning({ part }: { part: ReasoningUIPart }) {
  const streaming = part.state === 'streaming'
  return (
    <details className={'reasoning' + (streaming ? ' reasoning-live' : '')} data-testid="reasoning">
      <summary aria-live={streaming ? 'polite' : undefined}>{reasoningLabel(part)}</summary>
      <div className="reasoning-text">{part.text}</div>
    </details>
  )
}
