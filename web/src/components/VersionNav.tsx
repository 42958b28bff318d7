import type { Versions } from '../lib/versions'

type Props = {
  versions: Versions
  /** Shows the version with this id (and the branch that follows it). */
  onSelect: (messageId: string) => void
  disabled?: boolean
}

/** "‹ 2/3 ›": steps through a message's versions (its regenerated answers, its edits). */
export function VersionNav({ versions, onSelect, disabled = false }: Props) {
  const { index, count, ids } = versions
  return (
    <div className="version-nav" role="group" aria-label="Versions" data-testid="versions">
      <button type="button" className="icon-button" aria-label="Previous version" title="Previous version"
        disabled={disabled || index <= 1} onClick={() => onSelect(ids[index - 2])}>
        <span aria-hidden="true">‹</span>
      </button>
      <span className="version-count" data-testid="version-count" aria-live="polite">
        <span className="sr-only">Version </span>{index}/{count}
      </span>
      <button type="button" className="icon-button" aria-label="Next version" title="Next version"
        disabled={disabled || index >= count} onClick={() => onSelect(ids[index])}>
        <span aria-hidden="true">›</span>
      </button>
    </div>
  )
}
