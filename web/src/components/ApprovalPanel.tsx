import { useId, useState } from 'react'
import { useApprovalResponder } from '../lib/approval'

/** Approve or deny a tool call the model wants to make, with an optional reason the model reads. */
export function ApprovalPanel({ approvalId, toolName }: { approvalId: string; toolName: string }) {
  const respond = useApprovalResponder()
  const [reason, setReason] = useState('')
  const [sent, setSent] = useState(false)
  const reasonId = useId()
  if (!respond) return null
  const answer = (approved: boolean) => {
    setSent(true)
    const why = reason.trim()
    respond({ id: approvalId, approved, ...(approved || !why ? {} : { reason: why }) })
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
