import { getToolName, isToolUIPart, type UIMessage } from 'ai'

type Part = UIMessage['parts'][number]

function pretty(value: unknown): string {
  if (value === undefined) return ''
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2)
}

/** A tool call as a compact card: name and state on one line, arguments and result when opened. */
export function ToolCard({ part }: { part: Part }) {
  if (!isToolUIPart(part)) return null
  const name = getToolName(part)
  const failed = part.state === 'output-error'
  const done = part.state === 'output-available' || failed
  const state = failed ? 'failed' : done ? 'done' : 'running…'
  return (
    <details
      data-testid="tool-card"
      data-tool={name}
      data-state={part.state}
      className={
        'my-1 rounded-md border px-2 py-1 text-xs ' +
        (failed ? 'border-red-200 bg-red-50' : 'border-slate-200 bg-slate-50')
      }
    >
      <summary className="cursor-pointer select-none font-mono">
        <span className="font-semibold">{name}</span> <span className="text-slate-500">· {state}</span>
      </summary>
      <div className="mt-1 space-y-1">
        <pre className="overflow-x-auto whitespace-pre-wrap text-slate-700">{pretty(part.input)}</pre>
        {part.state === 'output-available' && (
          <pre data-testid="tool-output" className="overflow-x-auto whitespace-pre-wrap text-slate-900">
            {pretty(part.output)}
          </pre>
        )}
        {failed && <p className="text-red-800">{part.errorText}</p>}
      </div>
    </details>
  )
}
