import { getToolName, isToolUIPart, type UIMessage } from 'ai'
import { isExpired } from '../lib/approval'
import { formatDuration } from '../lib/errors'
import { ApprovalPanel } from './ApprovalPanel'
import { RememberNotice, savedMemory } from './RememberNotice'

type Part = UIMessage['parts'][number]

function pretty(value: unknown): string {
  if (value === undefined) return ''
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2)
}

/** One line of arguments for the closed card: `expression: "1234567 * 7654321"`. */
export function argumentsPreview(input: unknown, max = 60): string {
  if (input === undefined || input === null) return ''
  let text: string
  if (typeof input === 'object' && !Array.isArray(input)) {
    text = Object.entries(input as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
      .join(', ')
  } else {
    text = typeof input === 'string' ? input : JSON.stringify(input)
  }
  return text.length > max ? text.slice(0, max - 1) + '…' : text
}

/** The server's measure of the call: a stored part's `durationMs`, or a live one's `toolMetadata.durationMs`. */
function toolDuration(part: Part): number | null {
  const ms = (part as { durationMs?: unknown }).durationMs ??
    (part as { toolMetadata?: { durationMs?: unknown } }).toolMetadata?.durationMs
  return typeof ms === 'number' ? ms : null
}

/** Most tools take well under a millisecond, which "0 ms" would show as no measure at all. */
function formatToolTime(ms: number): string {
  return ms < 1 ? '< 1 ms' : formatDuration(ms)
}

type Look = { state: string; icon: string | null; meta: string }

/** How the card shows the call's state: its class, icon (null: a spinner) and the line's end. */
function look(part: Part & { state: string; errorText?: unknown }, duration: number | null): Look {
  switch (part.state) {
    case 'output-available':
      return { state: 'done', icon: '✓', meta: duration != null ? formatToolTime(duration) : 'done' }
    case 'output-error':
      return isExpired(part.errorText)
        ? { state: 'failed', icon: '!', meta: 'approval expired' }
        : { state: 'failed', icon: '!', meta: 'failed' }
    case 'output-denied':
      return { state: 'denied', icon: '✕', meta: 'denied' }
    case 'approval-requested':
      return { state: 'asking', icon: '?', meta: 'needs your approval' }
    case 'approval-responded':
      return { state: 'running', icon: null, meta: 'answered…' }
    default:
      return { state: 'running', icon: null, meta: 'running…' }
  }
}

/** A tool call as a compact card: name, arguments, state and duration on one line; the rest when opened. A
 * call waiting for the user's approval shows its Approve and Deny buttons below. */
export function ToolCard({ part }: { part: Part }) {
  const duration = toolDuration(part)
  if (!isToolUIPart(part)) return null
  const name = getToolName(part)
  const title = (part as { title?: unknown }).title
  const failed = part.state === 'output-error'
  const done = part.state === 'output-available' || failed
  const shown = look(part, duration)
  const remembered = name === 'remember' && part.state === 'output-available' ? savedMemory(part.output) : null
  const approval = part.approval as { id: string; approved?: boolean; reason?: string } | undefined
  return (
    <div className="tool-call">
      <details data-testid="tool-card" data-tool={name} data-state={part.state} className={'tool-card ' + shown.state}>
        <summary>
          <span className="tool-icon" aria-hidden="true">
            {shown.icon ?? <span className="spinner" />}
          </span>
          <span className="tool-name" title={typeof title === 'string' ? title : undefined}>
            {name}
          </span>
          <span className="tool-args">{argumentsPreview(part.input)}</span>
          <span className="tool-meta">{shown.meta}</span>
        </summary>
        <div className="tool-body">
          <div>
            <div className="tool-label">Arguments</div>
            <pre data-testid="tool-input">{pretty(part.input) || '(none)'}</pre>
          </div>
          {part.state === 'output-available' && (
            <div>
              <div className="tool-label">Result</div>
              <pre data-testid="tool-output">{pretty(part.output)}</pre>
            </div>
          )}
          {failed && (
            <div>
              <div className="tool-label">Error</div>
              <pre data-testid="tool-error" className="tool-error-text">
                {part.errorText}
              </pre>
            </div>
          )}
          {part.state === 'output-denied' && (
            <div data-testid="tool-denied">
              You denied this call{approval?.reason ? `: ${approval.reason}` : ''}. It did not run.
            </div>
          )}
          {duration != null && done && (
            <div className="tool-label">Took {formatToolTime(duration)}</div>
          )}
        </div>
      </details>
      {part.state === 'approval-requested' && approval && <ApprovalPanel approvalId={approval.id} toolName={name} />}
      {remembered && <RememberNotice memory={remembered} />}
    </div>
  )
}
