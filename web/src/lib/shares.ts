import type { UIMessage } from 'ai'
import { saveBlob } from './account'
import { apiFetch, request } from './http'

// Share links to one chat (a snapshot anyone with the link may read) and its export as a file.

/** A live link, as the owner sees it later: its token is not kept, so its address is not either. */
export type Share = { id: string; title: string | null; created_at: string; through_message_id: string }

/** A link just made: its address is shown this once. */
export type NewShare = Share & { token: string; url: string }

/** What a link shows: the chat's title, when it was shared, and its messages then. */
export type SharedChat = { title: string | null; created_at: string; messages: UIMessage[] }

export type SharedResult = { kind: 'ok'; chat: SharedChat } | { kind: 'gone' }

const threadPath = (threadId: string) => `/api/threads/${encodeURIComponent(threadId)}`

export function createShare(key: string | null, threadId: string): Promise<NewShare> {
  return request<NewShare>(`${threadPath(threadId)}/shares`, key, { method: 'POST', body: '{}' })
}

export async function listShares(key: string | null, threadId: string): Promise<Share[]> {
  return (await request<{ shares: Share[] }>(`${threadPath(threadId)}/shares`, key)).shares
}

export function revokeShare(key: string | null, shareId: string): Promise<void> {
  return request<void>(`/api/shares/${encodeURIComponent(shareId)}`, key, { method: 'DELETE' })
}

/** A shared chat, with no key; a link revoked (or never made) is `gone`. */
export async function fetchShared(token: string, signal?: AbortSignal): Promise<SharedResult> {
  const res = await apiFetch(`/api/shared/${encodeURIComponent(token)}`, null, { signal }, { allow: [404] })
  if (res.status === 404) return { kind: 'gone' }
  return { kind: 'ok', chat: (await res.json()) as SharedChat }
}

/** The full address of a link (the API gives it from the site's root). */
export function shareAddress(url: string): string {
  return new URL(url, window.location.origin).href
}

export type ExportFormat = 'markdown' | 'json'

/** The file name of a download, from its Content-Disposition (the server makes it safe). */
export function downloadName(disposition: string | null, fallback: string): string {
  const match = /filename="([^"]+)"/.exec(disposition ?? '')
  return match ? match[1] : fallback
}

/** Downloads the chat as a file: fetched with the key (the route is the owner's), saved from memory. */
export async function exportThread(key: string | null, threadId: string, format: ExportFormat): Promise<void> {
  const res = await apiFetch(`${threadPath(threadId)}/export?format=${format}`, key)
  saveBlob(await res.blob(), downloadName(res.headers.get('Content-Disposition'), format === 'json' ? 'chat.json' : 'chat.md'))
}
