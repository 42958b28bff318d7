import { request } from './http'

// What Parlor knows about the user and what they spend: custom instructions, saved memories, usage.

/** `GET /api/me/instructions`: about the user and how to answer, with their size against the bound. */
export type Instructions = {
  about: string
  style: string
  tokens: number
  max_tokens: number
  max_chars: number
  updated_at: string | null
}

export function fetchInstructions(key: string | null, signal?: AbortSignal): Promise<Instructions> {
  return request<Instructions>('/api/me/instructions', key, { signal })
}

export function saveInstructions(key: string | null, about: string, style: string): Promise<Instructions> {
  return request<Instructions>('/api/me/instructions', key, { method: 'PUT', body: JSON.stringify({ about, style }) })
}

/** A saved fact, with the thread it was learnt in (null: added by hand, or the thread was deleted). */
export type MemoryItem = {
  id: string
  text: string
  tokens: number
  thread_id: string | null
  thread: { id: string; title: string | null } | null
  created_at: string
}

export async function listMemories(key: string | null, signal?: AbortSignal): Promise<{
  memories: MemoryItem[]; enabled: boolean }> {
  return request('/api/memories', key, { signal })
}

export function addMemory(key: string | null, text: string): Promise<MemoryItem> {
  return request<MemoryItem>('/api/memories', key, { method: 'POST', body: JSON.stringify({ text }) })
}

export function editMemory(key: string | null, id: string, text: string): Promise<MemoryItem> {
  return request<MemoryItem>(`/api/memories/${encodeURIComponent(id)}`, key, {
    method: 'PATCH', body: JSON.stringify({ text }) })
}

export function deleteMemory(key: string | null, id: string): Promise<void> {
  return request<void>(`/api/memories/${encodeURIComponent(id)}`, key, { method: 'DELETE' })
}

/** One day and model's row of `GET /api/usage`. */
export type UsageRow = { day: string; model: string | null; requests: number; tokens_in: number; tokens_out: number }

export type Usage = {
  tier: string
  days: UsageRow[]
  budget: { tokens_per_day: number | null; used_today: number; remaining_today: number | null; timezone: string }
  limits: { requests_per_minute: number | null; requests_per_hour: number | null }
  requests_left: { minute: number | null; hour: number | null }
}

export function fetchUsage(key: string | null, days = 30, signal?: AbortSignal): Promise<Usage> {
  return request<Usage>(`/api/usage?days=${days}`, key, { signal })
}

/** Tokens per UTC day for the last `days` days, oldest first, a zero for a day without use. */
export function tokensPerDay(rows: UsageRow[], days = 30, today: Date = new Date()): { day: string; tokens: number }[] {
  const totals = new Map<string, number>()
  for (const row of rows) totals.set(row.day, (totals.get(row.day) ?? 0) + row.tokens_in + row.tokens_out)
  const out: { day: string; tokens: number }[] = []
  const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(end - i * 86_400_000).toISOString().slice(0, 10)
    out.push({ day, tokens: totals.get(day) ?? 0 })
  }
  return out
}
