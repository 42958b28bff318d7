import type { UIMessage } from 'ai'
import type { AssistantSummary, GroupRef } from './assistants'
import { ApiError, apiFetch, request } from './http'

// Parlor's own routes for who you are and your threads (not the chat stream: useChat owns that).

export type Me = {
  id: string
  name: string
  tier: string
  role: string
  /** The groups the user is in (admin-managed). */
  groups?: GroupRef[]
}

export type MeResult = { kind: 'ok'; me: Me } | { kind: 'unauthorized' }

export type Thread = {
  id: string
  title: string
  created_at: string
  updated_at: string
  /** The model chosen for it (null: the default). */
  model?: string | null
  /** The assistant it was started with (null: none). */
  assistant?: AssistantSummary | null
}

export type ThreadPage = { threads: Thread[]; next_cursor: string | null }

/** A stored message as `GET /api/threads/{id}` returns it: a UI message with Parlor's metadata. */
export type StoredMessage = UIMessage<{
  status?: string
  createdAt?: string
  requestId?: string
  feedback?: { rating: 'up' | 'down' | null; comment: string | null }
}>

/** GET /api/me. 401 means "sign in"; anything else unexpected throws. */
export async function fetchMe(key: string | null, signal?: AbortSignal): Promise<MeResult> {
  const res = await apiFetch('/api/me', key, { signal }, { allow: [401] })
  if (res.status === 401) return { kind: 'unauthorized' }
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

export type LoadedThread = { title: string | null; model: string | null; assistant: AssistantSummary | null;
  messages: StoredMessage[] }

/** A thread's title, model and stored messages, to seed useChat; an unknown thread is a new, empty chat. */
export async function fetchThread(chatId: string, key: string | null): Promise<LoadedThread> {
  const res = await apiFetch(`/api/threads/${encodeURIComponent(chatId)}`, key, {}, { allow: [404] })
  if (res.status === 404) return { title: null, model: null, assistant: null, messages: [] }
  const thread = (await res.json()) as Thread & { messages: StoredMessage[] }
  return { title: thread.title, model: thread.model ?? null, assistant: thread.assistant ?? null,
    messages: settledMessages(thread.messages) }
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
  try {
    await apiFetch(`/api/chat/${encodeURIComponent(chatId)}/stop`, key, { method: 'POST' })
  } catch (err) {
    // A refusal (the answer had already ended, say) leaves nothing to do: the stream is aborted anyway.
    if (!(err instanceof ApiError)) throw err
  }
}
