import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js'
import { Bar } from 'react-chartjs-2'

// Chart.js, tree-shaken to what a bar chart needs (registered once, here).
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip)

type Props = { points: { day: string; tokens: number }[] }

/** The theme's colour for the bars (Chart.js paints a canvas: it cannot read CSS variables itself). */
function cssColor(name: string, fallback: string): string {
  const value = typeof window === 'undefined' ? '' : getComputedStyle(document.documentElement).getPropertyValue(name)
  return value.trim() || fallback
}

/** "4 Dec" for "2026-12-04" (a UTC day, shown as such). */
function shortDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`)
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' })
}

/** Tokens per day as bars; the same numbers in a table for screen readers (a canvas says nothing). */
export default function UsageChart({ points }: Props) {
  const total = points.reduce((sum, p) => sum + p.tokens, 0)
  const busiest = points.reduce((best, p) => (p.tokens > best.tokens ? p : best), points[0] ?? { day: '', tokens: 0 })
  const summary = total
    ? `Tokens per day over the last ${points.length} days: ${total.toLocaleString()} in all; the busiest day, `
      + `${shortDay(busiest.day)}, used ${busiest.tokens.toLocaleString()}.`
    : `No tokens used in the last ${points.length} days.`
  const muted = cssColor('--color-muted', '#5b6370')
  return (
    <figure className="usage-chart" data-testid="usage-chart">
      <div className="usage-chart-canvas">
        <Bar role="img" aria-label={summary} data-testid="usage-canvas"
          data={{
            labels: points.map((p) => shortDay(p.day)),
            datasets: [{ label: 'Tokens', data: points.map((p) => p.tokens),
              backgroundColor: cssColor('--color-accent', '#4f46e5'), borderRadius: 3, maxBarThickness: 18 }],
          }}
          options={{
            responsive: true, maintainAspectRatio: false, animation: false,
            plugins: { tooltip: { callbacks: { label: (item) => `${Number(item.raw).toLocaleString()} tokens` } } },
            scales: {
              x: { grid: { display: false }, ticks: { color: muted, maxRotation: 0, autoSkipPadding: 12 } },
              y: { beginAtZero: true, ticks: { color: muted, precision: 0 } },
            },
          }} />
      </div>
      <figcaption className="text-sm text-muted">{summary}</figcaption>
      <table className="sr-only" data-testid="usage-table">
        <caption>Tokens per day</caption>
        <thead><tr><th scope="col">Day</th><th scope="col">Tokens</th></tr></thead>
        <tbody>
          {points.map((p) => <tr key={p.day}><td>{p.day}</td><td>{p.tokens}</td></tr>)}
        </tbody>
      </table>
    </figure>
  )
}
