import { createContext, useContext } from 'react'

/** Answers a tool call's approval: useChat's `addToolApprovalResponse` (Chat provides it). */
export type ApprovalResponder = (answer: { id: string; approved: boolean; reason?: string }) => void

export const ApprovalContext = createContext<ApprovalResponder | null>(null)

export function useApprovalResponder(): ApprovalResponder | null {
  return useContext(ApprovalContext)
}

/** The server's error text for a call whose approval came too late (parlor/agent/approval.py). */
export function isExpired(errorText: unknown): boolean {
  return typeof errorText === 'string' && errorText.startsWith('Approval expired')
}
