import { inkOn, type AssistantSummary } from '../lib/assistants'
import './assistants.css'

type Props = { assistant: Pick<AssistantSummary, 'avatar' | 'color'>; size?: 'sm' | 'md' | 'lg' }

/** The assistant's emoji or letters on its colour; decorative (its name is always beside it). */
export function AssistantAvatar({ assistant, size = 'md' }: Props) {
  return (
    <span className={`assistant-avatar assistant-avatar-${size}`} aria-hidden="true"
      style={{ background: assistant.color, color: inkOn(assistant.color) }}>
      {assistant.avatar || '?'}
    </span>
  )
}
