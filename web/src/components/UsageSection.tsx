import { lazy, Suspense, useEffect, useId, useState } from 'react'
import { describeError } from '../lib/http'
import { fetchUsage, tokensPerDay, type Usage } from '../lib/mind'

// Chart.js is most of the account page's weight: loaded once the numbers are in, in a chunk of its own.
const UsageChart = lazy(() => import('./UsageChart'))

const DAYS = 30

/** What the user spends: today's tokens against their tier's daily budget, the requests left in each
 * window, and tokens per day over the last 30 days. */
export function UsageSection({ apiKey }: { apiKey: string | null }) {
  const id = useId()
  const [usage, setUsage] = useState<Usage | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    const controller = new AbortController()
    fetchUsage(apiKey, DAYS, controller.signal).then(setUsage, (err: unknown) => {
      if (!controller.signal.aborted) setError(`Could not load your usage: ${describeError(err)}`)
    })
    return () => controller.abort()
  }, [apiKey])

  return (
    <section className="account-section" aria-labelledby={`${id}-title`} data-testid="usage-section">
      <h3 id={`${id}-title`} className="section-title">Usage</h3>
      {error && <p role="alert" className="upload-error">{error}</p>}
      {!usage && !error && <p role="status" className="text-sm text-muted">Loading usage…</p>}
      {usage && <UsageFacts usage={usage} id={id} points={tokensPerDay(usage.days, DAYS)} />}
    </section>
  )
}

type Points = ReturnType<typeof tokensPerDay>

function UsageFacts({ usage, id, points }: { usage: Usage; id: string; points: Points }) {
  const { tokens_per_day: limit, timezone } = usage.budget
  // With a budget, its own count (its day, in its time zone); without one nothing counts it: the ledger's UTC day
  const used = limit !== null ? usage.budget.used_today : (points.at(-1)?.tokens ?? 0)
  const left = usage.requests_left
  const windows = [
    { name: 'this minute', left: left.minute, of: usage.limits.requests_per_minute },
    { name: 'this hour', left: left.hour, of: usage.limits.requests_per_hour },
  ].filter((w) => w.of !== null)
  return (
    <>
    <div className="usage-facts">
      <div className="usage-budget" data-testid="usage-budget">
        <div className="flex items-baseline justify-between gap-2 text-sm">
          <span id={`${id}-today`}>Tokens today</span>
          <span className="font-semibold">
            {used.toLocaleString()}{limit !== null ? ` of ${limit.toLocaleString()}` : ''}
          </span>
        </div>
        {limit !== null ? (
          <meter className="usage-meter" aria-labelledby={`${id}-today`} min={0} max={limit} value={Math.min(used, limit)}
            low={limit * 0.7} high={limit * 0.9} optimum={0} data-testid="usage-meter" />
        ) : (
          <p className="text-sm text-muted">Your {usage.tier} tier has no daily token budget.</p>
        )}
        <p className="text-xs text-muted">The day ends at midnight, {timezone} time.</p>
      </div>
      <dl className="usage-requests" data-testid="usage-requests">
        {windows.length === 0 && <div><dt>Requests</dt><dd>no limit</dd></div>}
        {windows.map((w) => (
          <div key={w.name}>
            <dt>Requests left {w.name}</dt>
            <dd>{w.left ?? '–'} of {w.of}</dd>
          </div>
        ))}
      </dl>
    </div>
    <Suspense fallback={<p className="text-sm text-muted">Loading the chart…</p>}>
      <UsageChart points={points} />
    </Suspense>
    </>
  )
}
