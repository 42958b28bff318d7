import type { UIMessage } from 'ai'
import { EventSourceParserStream } from 'eventsource-parser/stream'
import { apiFetch, request } from './http'

// Documents: upload, list, read, delete, and each one's progress followed live until it is settled.

export type DocumentStatus = 'queued' | 'processing' | 'ready' | 'failed' | 'deleted'

/** A document as `GET /api/documents/{id}` returns it. */
export type DocumentInfo = {
  id: string
  filename: string
  content_type: string
  thread_id: string | null
  size_bytes: number
  status: DocumentStatus
  stage: string
  progress: number
  error: string | null
  pages: number | null
  chunks: number | null
  created_at: string
  updated_at: string
}

/** Where a document is in its processing: what the events stream carries (the whole state, not deltas). */
export type DocumentProgress = Pick<DocumentInfo, 'status' | 'stage' | 'progress' | 'error'> &
  Partial<Pick<DocumentInfo, 'pages' | 'chunks'>>

/** The upload's answer: the document, and the chat message that shows it when a thread was given. */
export type Uploaded = DocumentInfo & { duplicate?: boolean; message_id?: string }

/** The `data-document` part of the message that shows a document in its thread. */
export type DocumentPartData = {
  documentId: string
  name: string
  mediaType?: string
  status: DocumentStatus
  progress: number
  stage?: string | null
  error?: string | null
}

export type Chunk = { ordinal: number; page: number | null; text: string }

/** Accepted kinds (the server detects by content; this only filters the file picker). */
export const ACCEPT = '.pdf,.md,.markdown,.txt,.html,.htm,.docx,application/pdf,text/plain,text/markdown,text/html,' +
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document'

export function settled(status: DocumentStatus): boolean {
  return status === 'ready' || status === 'failed' || status === 'deleted'
}

/** Uploads a file (into a thread, when given: the server adds a message showing it there). */
export function uploadDocument(key: string | null, file: File, threadId: string | null): Promise<Uploaded> {
  const form = new FormData()
  form.append('file', file, file.name)
  if (threadId) form.append('thread_id', threadId)
  return request<Uploaded>('/api/documents', key, { method: 'POST', body: form })
}

export async function listDocuments(key: string | null, threadId?: string): Promise<DocumentInfo[]> {
  const query = threadId ? `?${new URLSearchParams({ thread_id: threadId })}` : ''
  return (await request<{ documents: DocumentInfo[] }>(`/api/documents${query}`, key)).documents
}

export function getDocument(key: string | null, id: string): Promise<DocumentInfo> {
  return request<DocumentInfo>(`/api/documents/${encodeURIComponent(id)}`, key)
}

export async function getChunks(key: string | null, id: string): Promise<Chunk[]> {
  return (await request<{ chunks: Chunk[] }>(`/api/documents/${encodeURIComponent(id)}/chunks`, key)).chunks
}

export function deleteDocument(key: string | null, id: string): Promise<void> {
  return request<void>(`/api/documents/${encodeURIComponent(id)}`, key, { method: 'DELETE' })
}

/** Saves the original file (fetched with the key: a plain link cannot send it). */
export async function downloadDocument(key: string | null, id: string, filename: string): Promise<void> {
  const res = await apiFetch(`/api/documents/${encodeURIComponent(id)}/file`, key)
  const url = URL.createObjectURL(await res.blob())
  const link = Object.assign(document.createElement('a'), { href: url, download: filename })
  link.click()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000]

/**
 * Follows a document's progress (`GET /api/documents/{id}/events`, Server-Sent Events) until it is
 * settled, calling `onProgress` with each state. A fetch-based reader, because EventSource cannot send
 * the Authorization header; a dropped stream is opened again after a pause (each stream starts with
 * the current state, so nothing is lost). A 404 ends it as deleted. Stops when `signal` aborts.
 */
export async function followDocument(key: string | null, id: string, onProgress: (p: DocumentProgress) => void,
  signal: AbortSignal): Promise<void> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      // Another refusal throws: caught below, and tried again like a dropped line.
      const res = await apiFetch(`/api/documents/${encodeURIComponent(id)}/events`, key, {
        headers: { Accept: 'text/event-stream' },
        signal,
      }, { allow: [404] })
      if (res.status === 404) {
        onProgress({ status: 'deleted', stage: 'deleted', progress: 0, error: null })
        return
      }
      if (res.ok && res.body) {
        const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())
        const reader = events.getReader()
        for (;;) {
          const { value: event, done } = await reader.read()
          if (done || event.data === '[DONE]') break
          const progress = JSON.parse(event.data) as DocumentProgress
          onProgress(progress)
          attempt = 0
          if (settled(progress.status)) return
        }
      }
    } catch {
      if (signal.aborted) return
      // the line dropped: try again below
    }
    await sleep(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)], signal)
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

const STAGES: Record<string, string> = {
  queued: 'Waiting in line',
  parsing: 'Reading',
  chunking: 'Splitting into passages',
  embedding: 'Indexing',
  indexing: 'Indexing',
  ready: 'Ready',
  failed: 'Failed',
  deleted: 'Deleted',
}

/** A stage's name for people. */
export function stageLabel(stage: string | null | undefined): string {
  if (!stage) return 'Processing'
  return STAGES[stage] ?? stage.charAt(0).toUpperCase() + stage.slice(1)
}

/** The message that shows an uploaded document in the chat (the server stores the same one). */
export function documentMessage(doc: Uploaded): UIMessage {
  return {
    id: doc.message_id ?? `document-${doc.id}`,
    role: 'user',
    parts: [{
      type: 'data-document',
      id: doc.id,
      data: { documentId: doc.id, name: doc.filename, mediaType: doc.content_type, status: doc.status,
        progress: doc.progress, stage: doc.stage, error: doc.error },
    }],
  }
}
