import type { UIMessage } from 'ai'

// Small client for Parlor's own HTTP routes (not the chat stream: useChat owns that).

const KEY_STORAGE = 'parlor.apiKey'

export type Me = {
  id: string
  name: string
  tier: string
  role: string
}

export type MeResult = { kind: 'ok'; me: Me } | { kind: 'unauthorized' }

export function loadApiKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE)
  } catch {
    return null
  }
}

export function saveApiKey(key: string): void {
  localStorage.setItem(KEY_STORAGE, key)
}

export function clearApiKey(): void {
  localStorage.removeItem(KEY_STORAGE)
}

export function authHeaders(key: string | null): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {}
}

/** GET /api/me. 401 means "sign in"; anything else unexpected throws. */
export async function fetchMe(key: string | null, signal?: AbortSignal): Promise<MeResult> {
  const res = await fetch('/api/me', { headers: authHeaders(key), signal })
  if (res.status === 401) return { kind: 'unauthorized' }
  if (!res.ok) throw new Error(errorMessage(await res.text()) || `GET /api/me failed (${res.status})`)
  return { kind: 'ok', me: (await res.json()) as Me }
}

/**
 * Parlor answers errors as {"error": {"code", "message", "request_id"}}; useChat surfaces the raw
 * response body as the error message. Show the human part when there is one.
 */
export function errorMessage(raw: string): string {
  try {
    const body: unknown = JSON.parse(raw)
    if (body && typeof body === 'object' && 'error' in body) {
      const err = (body as { error: unknown }).error
      if (typeof err === 'string') return err
      if (err && typeof err === 'object' && 'message' in err) {
        const { message, request_id } = err as { message?: unknown; request_id?: unknown }
        if (typeof message === 'string') {
          return typeof request_id === 'string' ? `${message} (request ${request_id})` : message
        }
      }
    }
  } catch {
    // not JSON: show as is
  }
  return raw
}

/** The stored messages of a thread, to seed useChat; an unknown thread is a new, empty chat. */
export async function fetchThreadMessages(chatId: string, key: string | null): Promise<UIMessage[]> {
  const res = await fetch(`/api/threads/${encodeURIComponent(chatId)}`, { headers: authHeaders(key) })
  if (res.status === 404) return []
  if (!res.ok) throw new Error(errorMessage(await res.text()) || `loading the chat failed (${res.status})`)
  const thread = (await res.json()) as { messages: (UIMessage & { metadata?: { status?: string } })[] }
  // An answer still being generated comes back through the resumed stream, from its start.
  return thread.messages.filter((m) => m.metadata?.status !== 'streaming')
}

/** Stops the chat's generation on the server (wherever it runs); the partial answer is kept. */
export async function stopChat(chatId: string, key: string | null): Promise<void> {
  await fetch(`/api/chat/${encodeURIComponent(chatId)}/stop`, { method: 'POST', headers: authHeaders(key) })
}
