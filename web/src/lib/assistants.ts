import type { Uploaded } from './documents'
import { request } from './http'

// Assistants (instructions, a model, tools and knowledge, shared with groups or everyone) and the lists the
// editor picks from: the server's tools and the caller's groups.

export type Visibility = 'private' | 'public' | 'groups'

export type GroupRef = { id: string; name: string }

/** What a thread shows of its assistant (`GET /api/threads` items). */
export type AssistantSummary = { id: string; name: string; avatar: string; color: string }

/** An assistant as `GET /api/assistants/{id}` returns it; `instructions` is null for those not its owner. */
export type Assistant = AssistantSummary & {
  description: string
  instructions: string | null
  model: string | null
  tools: string[] | null
  approval_tools: string[]
  starters: string[]
  visibility: Visibility
  groups: GroupRef[]
  owner: { id: string; name: string }
  mine: boolean
  documents: { id: string; filename: string; status: string }[]
  created_at: string
  updated_at: string
}

/** What the editor saves (POST, or PATCH of all of it). */
export type AssistantInput = {
  name: string
  description: string
  instructions: string
  /** null: the tier's default model. */
  model: string | null
  /** null: every tool the server offers. */
  tools: string[] | null
  approval_tools: string[]
  starters: string[]
  avatar: string
  color: string
  visibility: Visibility
  /** Group ids, for visibility `groups`. */
  groups: string[]
}

export type ToolInfo = { name: string; description: string; kind: 'builtin' | 'http' | 'mcp' }

/** The server's limits (it checks them too: these only say it sooner, next to the field). */
export const LIMITS = { name: 80, description: 500, instructions: 8000, starters: 4, starter: 200 } as const

export const COLORS = ['#4f46e5', '#0e7490', '#15803d', '#b45309', '#be123c', '#7e22ce', '#334155'] as const

export function emptyAssistant(): AssistantInput {
  return { name: '', description: '', instructions: '', model: null, tools: null, approval_tools: [], starters: [],
    avatar: '', color: COLORS[0], visibility: 'private', groups: [] }
}

/** The editor's starting point for an assistant of yours. */
export function inputOf(a: Assistant): AssistantInput {
  return { name: a.name, description: a.description, instructions: a.instructions ?? '', model: a.model,
    tools: a.tools, approval_tools: a.approval_tools, starters: a.starters, avatar: a.avatar, color: a.color || COLORS[0],
    visibility: a.visibility, groups: a.groups.map((g) => g.id) }
}

/** One emoji (a grapheme, flags and families included) or one or two letters. */
export function validAvatar(avatar: string): boolean {
  const graphemes = [...new Intl.Segmenter().segment(avatar)].map((s) => s.segment)
  if (graphemes.length === 1 && /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(graphemes[0])) return true
  return /^\p{L}{1,2}$/u.test(avatar)
}

export type FieldErrors = Partial<Record<'name' | 'description' | 'instructions' | 'starters' | 'avatar' | 'color' |
  'groups', string>>

/** What is wrong with the form, field by field (empty: it can be saved). */
export function checkAssistant(input: AssistantInput): FieldErrors {
  const errors: FieldErrors = {}
  const name = input.name.trim()
  if (!name) errors.name = 'Give it a name.'
  else if (chars(name) > LIMITS.name) errors.name = `At most ${LIMITS.name} characters.`
  if (chars(input.description) > LIMITS.description) errors.description = `At most ${LIMITS.description} characters.`
  if (chars(input.instructions) > LIMITS.instructions)
    errors.instructions = `At most ${LIMITS.instructions} characters.`
  if (input.starters.some((s) => chars(s) > LIMITS.starter)) errors.starters = `Each at most ${LIMITS.starter} characters.`
  if (input.avatar.trim() && !validAvatar(input.avatar.trim())) errors.avatar = 'One emoji, or one or two letters.'
  if (!/^#[0-9a-f]{6}$/i.test(input.color)) errors.color = 'A colour like #4f46e5.'
  if (input.visibility === 'groups' && input.groups.length === 0) errors.groups = 'Choose at least one group.'
  return errors
}

/** Characters as the server counts them (code points, not UTF-16 halves). */
const chars = (text: string) => [...text].length

/** The body to send: trimmed, empty starters dropped, no avatar → the name's first letter, groups only when used. */
export function bodyOf(input: AssistantInput): AssistantInput {
  const name = input.name.trim()
  return {
    ...input,
    name,
    description: input.description.trim(),
    starters: input.starters.map((s) => s.trim()).filter(Boolean).slice(0, LIMITS.starters),
    avatar: input.avatar.trim() || avatarFallback(name),
    approval_tools: input.tools === null ? input.approval_tools
      : input.approval_tools.filter((t) => input.tools?.includes(t)),
    groups: input.visibility === 'groups' ? input.groups : [],
  }
}

/** The name's first letter (none: no avatar, and the server keeps none). */
export function avatarFallback(name: string): string {
  return [...name].find((c) => /\p{L}/u.test(c))?.toUpperCase() ?? ''
}

export async function listAssistants(key: string | null, signal?: AbortSignal): Promise<Assistant[]> {
  return (await request<{ assistants: Assistant[] }>('/api/assistants', key, { signal })).assistants
}

export function getAssistant(key: string | null, id: string, signal?: AbortSignal): Promise<Assistant> {
  return request<Assistant>(`/api/assistants/${encodeURIComponent(id)}`, key, { signal })
}

export function createAssistant(key: string | null, input: AssistantInput): Promise<Assistant> {
  return request<Assistant>('/api/assistants', key, { method: 'POST', body: JSON.stringify(bodyOf(input)) })
}

export function updateAssistant(key: string | null, id: string, input: AssistantInput): Promise<Assistant> {
  return request<Assistant>(`/api/assistants/${encodeURIComponent(id)}`, key,
    { method: 'PATCH', body: JSON.stringify(bodyOf(input)) })
}

export function deleteAssistant(key: string | null, id: string): Promise<void> {
  return request<void>(`/api/assistants/${encodeURIComponent(id)}`, key, { method: 'DELETE' })
}

/** A document the assistant searches in its chats (its owner's only). */
export function uploadAssistantDocument(key: string | null, assistantId: string, file: File): Promise<Uploaded> {
  const form = new FormData()
  form.append('file', file, file.name)
  form.append('assistant_id', assistantId)
  return request<Uploaded>('/api/documents', key, { method: 'POST', body: form })
}

export async function listTools(key: string | null, signal?: AbortSignal): Promise<ToolInfo[]> {
  return (await request<{ tools: ToolInfo[] }>('/api/tools', key, { signal })).tools
}

/** The groups the caller is in (an assistant can be shared with them). */
export async function myGroups(key: string | null, signal?: AbortSignal): Promise<GroupRef[]> {
  return (await request<{ groups?: GroupRef[] }>('/api/me', key, { signal })).groups ?? []
}

/** What a chat knows of its assistant: the thread's summary, or all of it once fetched (the welcome's words). */
export type ChatAssistant = AssistantSummary & Partial<Pick<Assistant, 'description' | 'starters' | 'model'>>

/** Black or white, whichever reads better on the avatar's colour (WCAG relative luminance). */
export function inkOn(color: string): '#000000' | '#ffffff' {
  const hex = /^#([0-9a-f]{6})$/i.exec(color)?.[1]
  if (!hex) return '#ffffff'
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  })
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
  // Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05: equal at L ≈ 0.179.
  return luminance > 0.179 ? '#000000' : '#ffffff'
}
