import type { UIMessage } from 'ai'

/** An answer with nothing in it yet: no text, no tool call, only step markers (or no part at all). */
export function isEmptyAnswer(message: UIMessage): boolean {
  return message.role === 'assistant' && message.parts.every((p) => p.type === 'step-start')
}

function statusOf(message: UIMessage): string | undefined {
  return (message.metadata as { status?: string } | undefined)?.status
}

/** The last question, when it has nothing to show for an answer; `stopped`: Stop came before its first token. */
export type Unanswered = { question: UIMessage; stopped: boolean }

/**
 * The question to ask again: the last one, when no answer follows it (none stored, or one still empty) —
 * whether the server holds it or never took it. Null when answered, or when nothing was asked (the last
 * message only attached a document).
 */
export function unanswered(messages: UIMessage[]): Unanswered | null {
  // Empty answers at the end, more than one when Stop came within the SDK's throttle: the answer it was
  // still holding back lands after the one Stop marked.
  let end = messages.length
  while (end > 0 && isEmptyAnswer(messages[end - 1])) end -= 1
  const question = messages[end - 1]
  const asked = question?.role === 'user' && question.parts.some((p) => p.type === 'text' && p.text.trim() !== '')
  const stopped = messages.slice(end).some((m) => statusOf(m) === 'aborted')
  return asked ? { question, stopped } : null
}

/**
 * The messages as the server stores them once Stop ends a turn: the answer under way marked aborted, or an
 * empty aborted answer when it had not even started here. (The stream ends in the browser first, so the
 * server's own word on it never arrives.)
 */
export function markStopped(messages: UIMessage[]): UIMessage[] {
  const last = messages[messages.length - 1]
  if (last?.role === 'assistant') {
    return [...messages.slice(0, -1), { ...last, metadata: { ...(last.metadata as object | undefined), status: 'aborted' } }]
  }
  if (last?.role === 'user') {
    return [...messages, { id: `stopped-${last.id}`, role: 'assistant', parts: [], metadata: { status: 'aborted' } }]
  }
  return messages
}
