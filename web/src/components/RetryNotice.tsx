type Props = {
  /** Stop came before the first token (else the question simply has no answer). */
  stopped: boolean
  onRetry: () => void
}

/** The last question has no answer to show: says why, and offers to make one. */
export function RetryNotice({ stopped, onRetry }: Props) {
  return (
    <div role="status" data-testid="retry-notice" className="notice-retry">
      <p>{stopped ? 'Stopped before the answer began.' : 'This question has no answer.'}</p>
      <button type="button" data-testid="retry-answer" className="btn-secondary" onClick={onRetry}>
        <svg aria-hidden="true" viewBox="0 0 20 20" width="14" height="14" fill="none" stroke="currentColor" strokeWidth="1.8">
          <path d="M16 10a6 6 0 1 1-2-4.5M16 3.5V7h-3.5" />
        </svg>
        Retry
      </button>
    </div>
  )
}
