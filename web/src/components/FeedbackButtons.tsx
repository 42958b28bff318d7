import { useId, useState } from 'react'
import { knownFeedback, sendFeedback, type Feedback, type Rating } from '../lib/feedback'
import { useApiKey } from '../lib/session'

const THUMB = 'M7 9V17H4V9zM7 9l3.5-6c1.2 0 2 .8 2 2v3H16a1.5 1.5 0 0 1 1.5 1.8l-1.2 6A1.5 1.5 0 0 1 14.8 17H7'

function Thumb({ down }: { down?: boolean }) {
  return (
    <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor"
      strokeWidth="1.6" strokeLinejoin="round" style={down ? { transform: 'rotate(180deg)' } : undefined}>
      <path d={THUMB} />
    </svg>
  )
}

/**
 * Thumbs up / down on an answer, with an optional comment; pressing the chosen thumb again clears it.
 * The state starts from the stored `metadata.feedback` and follows what the server confirms.
 */
export function FeedbackButtons({ messageId, stored }: { messageId: string; stored?: Feedback | null }) {
  const key = useApiKey()
  const [feedback, setFeedback] = useState<Feedback>(() => knownFeedback(messageId, stored))
  const [commenting, setCommenting] = useState(false)
  const [comment, setComment] = useState(feedback.comment ?? '')
  const [error, setError] = useState<string | null>(null)
  const [saving, setSaving] = useState(false)
  const commentId = useId()

  async function save(next: Feedback) {
    const before = feedback
    setFeedback(next)
    setSaving(true)
    setError(null)
    try {
      setFeedback(await sendFeedback(key, messageId, next))
    } catch (err) {
      setFeedback(before)
      setError(`Feedback not saved: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      setSaving(false)
    }
  }

  function rate(rating: Rating) {
    const clearing = feedback.rating === rating
    setCommenting(!clearing)
    if (clearing) setComment('')
    void save({ rating: clearing ? null : rating, comment: clearing ? null : feedback.comment })
  }

  return (
    <>
      <button type="button" className="icon-button" data-testid="feedback-up" aria-pressed={feedback.rating === 'up'}
        aria-label="Good answer" title="Good answer" disabled={saving} onClick={() => rate('up')}>
        <Thumb />
      </button>
      <button type="button" className="icon-button" data-testid="feedback-down"
        aria-pressed={feedback.rating === 'down'} aria-label="Bad answer" title="Bad answer" disabled={saving}
        onClick={() => rate('down')}>
        <Thumb down />
      </button>
      {error && <span role="alert" className="feedback-error">{error}</span>}
      {commenting && feedback.rating && (
        <form className="feedback-form" data-testid="feedback-form"
          onSubmit={(e) => {
            e.preventDefault()
            setCommenting(false)
            void save({ rating: feedback.rating, comment: comment.trim() || null })
          }}>
          <label htmlFor={commentId} className="sr-only">
            {feedback.rating === 'up' ? 'What was good? (optional)' : 'What went wrong? (optional)'}
          </label>
          <input id={commentId} data-testid="feedback-comment" className="search" autoFocus maxLength={2000}
            value={comment} onChange={(e) => setComment(e.target.value)}
            placeholder={feedback.rating === 'up' ? 'What was good? (optional)' : 'What went wrong? (optional)'}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                e.preventDefault()
                e.stopPropagation()
                setCommenting(false)
              }
            }} />
          <button type="submit" className="btn-secondary text-xs" data-testid="feedback-send">Send</button>
        </form>
      )}
    </>
  )
}
