import { avatarFallback, COLORS, inkOn, type AssistantSummary } from '../lib/assistants'
import './assistants.css'

type Props = { assistant: Pick<AssistantSummary, 'avatar' | 'color'> & { name?: string }; size?: 'xs' | 'sm' | 'md' | 'lg' }

/** The assistant's emoji or letters on its colour; decorative (its name is always beside it). */
export function AssistantAvatar({ assistant, size = 'md' }: Props) {
  const color = assistant.color || COLORS[0] // none chosen (made through the API): the accent
  return (
    <span className={`assistant-avatar assistant-avatar-${size}`} aria-hidden="true"
      style={{ background: color, color: inkOn(color) }}>
      {assistant.avatar || avatarFallback(assistant.name ?? '') || '?'}
    </span>
  )
}
