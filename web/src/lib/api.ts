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

export type Thread = {
  id: string
  title: string
  created_at: string
  updated_at: string
}

export type ThreadPage = { threads: Thread[]; next_cursor: string | null }

/** A stored message as `GET /api/threads/{id}` returns it: a UI message with Parlor's metadata. */
export type StoredMessage = UIMessage<{
  status?: string
  createdAt?: string
  requestId?: string
  feedback?: { rating: 'up' | 'down' | null; comment: string | null }
}>

/** A non-2xx answer from Parlor, from its error envelope `{"error": {"code", "message", "request_id"}}`. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly requestId: string | null

  constructor(status: number, code: string, message: string, requestId: string | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.requestId = requestId
  }
}

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

/** The error envelope's parts, or null when the body is not one. */
export function parseErrorBody(raw: string): { code: string; message: string; requestId: string | null } | null {
  try {
    const body: unknown = JSON.parse(raw)
    if (body && typeof body === 'object' && 'error' in body) {
      const err = (body as { error: unknown }).error
      if (typeof err === 'string') return { code: 'error', message: err, requestId: null }
      if (err && typeof err === 'object' && 'message' in err) {
        const { message, code, request_id } = err as { message?: unknown; code?: unknown; request_id?: unknown }
        if (typeof message === 'string') {
          return {
            code: typeof code === 'string' ? code : 'error',
            message,
            requestId: typeof request_id === 'string' ? request_id : null,
          }
        }
      }
    }
  } catch {
    // not JSON
  }
  return null
}

/**
 * Parlor answers errors as {"error": {"code", "message", "request_id"}}; useChat surfaces the raw
 * response body as the error message. Show the human part when there is one.
 */
export function errorMessage(raw: string): string {
  const parsed = parseErrorBody(raw)
  if (!parsed) return raw
  return parsed.requestId ? `${parsed.message} (request ${parsed.requestId})` : parsed.message
}

export async function request<T>(path: string, key: string | null, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, {
    ...init,
    headers: { ...authHeaders(key), ...(init.body ? { 'Content-Type': 'application/json' } : {}) },
  })
  if (!res.ok) {
    const raw = await res.text()
    const parsed = parseErrorBody(raw)
    throw new ApiError(res.status, parsed?.code ?? 'http_error', parsed?.message ?? `${res.status} ${res.statusText}`,
      parsed?.requestId ?? res.headers.get('X-Request-ID'))
  }
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** GET /api/me. 401 means "sign in"; anything else unexpected throws. */
export async function fetchMe(key: string | null, signal?: AbortSignal): Promise<MeResult> {
  const res = await fetch('/api/me', { headers: authHeaders(key), signal })
  if (res.status === 401) return { kind: 'unauthorized' }
  if (!res.ok) throw new Error(errorMessage(await res.text()) || `GET /api/me failed (${res.status})`)
  return { kind: 'ok', me: (await res.json()) as Me }
}

/** One page of the caller's threads, newest first; with `search`, those whose title or messages contain it. */
export function listThreads(key: string | null, cursor: string | null = null, limit = 30, search = '',
  signal?: AbortSignal): Promise<ThreadPage> {
  const query = new URLSearchParams({ limit: String(limit) })
  if (cursor) query.set('cursor', cursor)
  if (search.trim()) query.set('q', search.trim())
  return request<ThreadPage>(`/api/threads?${query}`, key, { signal })
}

export function renameThread(key: string | null, id: string, title: string): Promise<Thread> {
  return request<Thread>(`/api/threads/${encodeURIComponent(id)}`, key, {
    method: 'PATCH',
    body: JSON.stringify({ title }),
  })
}

export function deleteThread(key: string | null, id: string): Promise<void> {
  return request<void>(`/api/threads/${encodeURIComponent(id)}`, key, { method: 'DELETE' })
}

/** A thread's title and stored messages, to seed useChat; an unknown thread is a new, empty chat. */
export async function fetchThread(chatId: string, key: string | null): Promise<{ title: string | null; messages: StoredMessage[] }> {
  const res = await fetch(`/api/threads/${encodeURIComponent(chatId)}`, { headers: authHeaders(key) })
  if (res.status === 404) return { title: null, messages: [] }
  if (!res.ok) throw new Error(errorMessage(await res.text()) || `loading the chat failed (${res.status})`)
  const thread = (await res.json()) as { title: string; messages: StoredMessage[] }
  return { title: thread.title, messages: settledMessages(thread.messages) }
}

/** The stored messages of a thread (see fetchThread). */
export async function fetchThreadMessages(chatId: string, key: string | null): Promise<StoredMessage[]> {
  return (await fetchThread(chatId, key)).messages
}

/** An answer still being generated comes back through the resumed stream, from its start: leave it out. */
export function settledMessages(messages: StoredMessage[]): StoredMessage[] {
  return messages.filter((m) => m.metadata?.status !== 'streaming')
}

/** Stops the chat's generation on the server (wherever it runs); the partial answer is kept. */
export async function stopChat(chatId: string, key: string | null): Promise<void> {
  await fetch(`/api/chat/${encodeURIComponent(chatId)}/stop`, { method: 'POST', headers: authHeaders(key) })
}
