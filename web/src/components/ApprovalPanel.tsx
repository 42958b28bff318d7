import { useId, useState } from 'react'
import { useApprovals } from '../lib/approval'

/** Approve or deny a tool call the model wants to make, with an optional reason the model reads. */
export function ApprovalPanel({ approvalId, toolName }: { approvalId: string; toolName: string }) {
  const approvals = useApprovals()
  const [reason, setReason] = useState('')
  const [sent, setSent] = useState(false)
  const reasonId = useId()
  if (!approvals) return null
  if (!approvals.open.has(approvalId)) {
    return (
      <p className="approval approval-moot" data-testid="approval-moot">
        Not answered: the chat went on without {toolName}.
      </p>
    )
  }
  const answer = (approved: boolean) => {
    setSent(true)
    const why = reason.trim()
    approvals.respond({ id: approvalId, approved, ...(approved || !why ? {} : { reason: why }) })
  }
  return (
    <div className="approval" role="group" aria-label={`Approve ${toolName}?`} data-testid="approval">
      <p className="approval-question">
        The assistant wants to run <strong>{toolName}</strong>. Allow it?
      </p>
      <label className="approval-reason" htmlFor={reasonId}>
        Reason, if you deny it (optional)
      </label>
      <input
        id={reasonId}
        data-testid="approval-reason"
        type="text"
        maxLength={2000}
        value={reason}
        disabled={sent}
        onChange={(e) => setReason(e.target.value)}
      />
      <div className="approval-actions">
        <button type="button" className="btn-primary" data-testid="approve" disabled={sent} onClick={() => answer(true)}>
          Approve
        </button>
        <button type="button" className="btn-secondary" data-testid="deny" disabled={sent} onClick={() => answer(false)}>
          Deny
        </button>
      </div>
    </div>
  )
}
