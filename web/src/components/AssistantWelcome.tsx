import type { ChatAssistant } from '../lib/assistants'
import { AssistantAvatar } from './AssistantAvatar'

type Props = {
  assistant: ChatAssistant
  /** A starter was chosen: it is sent as the first message. */
  onStarter: (text: string) => void
  disabled?: boolean
}

/** An empty chat with an assistant: who it is, what it is for, and its conversation starters as buttons. */
export function AssistantWelcome({ assistant, onStarter, disabled }: Props) {
  return (
    <div className="assistant-welcome" data-testid="assistant-welcome">
      <AssistantAvatar assistant={assistant} size="lg" />
      <h2 className="text-2xl font-semibold text-fg">{assistant.name}</h2>
      {assistant.description && <p className="text-sm text-muted">{assistant.description}</p>}
      {assistant.starters && assistant.starters.length > 0 && (
        <ul className="starters" aria-label="Conversation starters">
          {assistant.starters.map((text) => (
            <li key={text}>
              <button type="button" className="starter" disabled={disabled} onClick={() => onStarter(text)}>
                {text}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** The chat header's mark of the assistant a chat is with. */
export function AssistantBadge({ assistant }: { assistant: ChatAssistant }) {
  return (
    <span className="chat-assistant" data-testid="chat-assistant">
      <AssistantAvatar assistant={assistant} size="sm" />
      <span>{assistant.name}</span>
    </span>
  )
}
