import { request } from './http'

// The models the caller's tier may use (GET /api/models), and how the picker shows them.

export type Model = {
  /** What the chat request's `model` sends back. */
  id: string
  label: string
  kind: string
  model: string
  capabilities: { vision: boolean; tools: boolean; reasoning: boolean }
  /** Tokens; null: not configured. */
  context_window: number | null
  /** US dollars per million tokens; null: not known. */
  price: { input: number; output: number } | null
  /** The one a chat with no model chosen starts with. */
  default: boolean
}

export function fetchModels(key: string | null, signal?: AbortSignal): Promise<Model[]> {
  return request<{ models: Model[] }>('/api/models', key, { signal }).then((body) => body.models)
}

/** The model a chat uses: the thread's own while the list still has it, else the default (else the first). */
export function chosenModel(models: Model[], threadModel: string | null | undefined): Model | null {
  return models.find((m) => m.id === threadModel) ?? models.find((m) => m.default) ?? models[0] ?? null
}

/** A context size as people read it: 8192 → "8K", 128000 → "128K", 1048576 → "1M" (sizes are given in
 * powers of two or of ten: either base). */
export function contextLabel(tokens: number): string {
  const base = tokens % 1000 === 0 ? 1000 : 1024
  if (tokens >= base * base) return `${+(tokens / (base * base)).toFixed(1)}M`
  if (tokens >= base) return `${+(tokens / base).toFixed(1)}K`
  return String(tokens)
}

/** "$1.25 / $10 per M tokens" (input / output), "Free" for a model that costs nothing, null when unknown. */
export function priceLabel(price: Model['price']): string | null {
  if (!price) return null
  if (price.input === 0 && price.output === 0) return 'Free'
  return `$${price.input} / $${price.output} per M tokens`
}

/** The hints shown beside the picker: what the model can and cannot do, its context and price. */
export function modelHints(model: Model): string[] {
  const { vision, tools, reasoning } = model.capabilities
  return [
    vision ? 'Sees images' : 'Text only',
    ...(tools ? ['Tools'] : []),
    ...(reasoning ? ['Reasoning'] : []),
    ...(model.context_window ? [`${contextLabel(model.context_window)} context`] : []),
    ...(priceLabel(model.price) ? [priceLabel(model.price) as string] : []),
  ]
}
