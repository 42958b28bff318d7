import { modelHints, type Model } from '../lib/models'

type Props = {
  models: Model[]
  selected: Model
  onSelect: (model: Model) => void
  disabled?: boolean
}

/** The chat's model: a native select (keyboard and screen readers for free), and what the chosen one can do. */
export function ModelPicker({ models, selected, onSelect, disabled }: Props) {
  return (
    <div className="model-bar" data-testid="model-bar">
      <label htmlFor="model-picker" className="model-label">Model</label>
      <select id="model-picker" data-testid="model-picker" className="model-select" value={selected.id}
        disabled={disabled || models.length < 2}
        onChange={(e) => {
          const found = models.find((m) => m.id === e.target.value)
          if (found) onSelect(found)
        }}>
        {models.map((m) => (
          <option key={m.id} value={m.id}>{m.label}</option>
        ))}
      </select>
      <ul className="model-hints" aria-label={`What ${selected.label} can do`} data-testid="model-hints">
        {modelHints(selected).map((hint) => (
          <li key={hint} className={hint === 'Text only' ? 'model-hint muted' : 'model-hint'}>{hint}</li>
        ))}
      </ul>
    </div>
  )
}
