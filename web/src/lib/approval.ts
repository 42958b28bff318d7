import { isToolUIPart, type UIMessage } from 'ai'
import { createContext, useContext } from 'react'

/** Answers a tool call's approval: useChat's `addToolApprovalResponse` (Chat provides it). */
export type ApprovalResponder = (answer: { id: string; approved: boolean; reason?: string }) => void

/** What the chat offers its tool cards: the responder, and the approvals still open to an answer. */
export type Approvals = { respond: ApprovalResponder; open: ReadonlySet<string> }

export const ApprovalContext = createContext<Approvals | null>(null)

export function useApprovals(): Approvals | null {
  return useContext(ApprovalContext)
}

/**
 * The approvals the last answer waits for. An earlier answer's are moot: a message sent since went on without
 * them (the SDK sends answers only for the last message, and the server takes only those).
 */
export function openApprovals(messages: UIMessage[]): Set<string> {
  const last = messages[messages.length - 1]
  if (last?.role !== 'assistant') return new Set()
  return new Set(
    last.parts.flatMap((p) => (isToolUIPart(p) && p.state === 'approval-requested' ? [p.approval.id] : [])),
  )
}

/** The server's error text for a call whose approval came too late (parlor/agent/approval.py). */
export function isExpired(errorText: unknown): boolean {
  return typeof errorText === 'string' && errorText.startsWith('Approval expired')
}
