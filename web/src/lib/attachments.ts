import type { FileUIPart } from 'ai'
import { useEffect, useState } from 'react'
import { apiFetch } from './http'

// Images and PDFs sent with a message (AI SDK file parts, as data: URLs; the server keeps them and
// answers with its own authenticated URL, /api/files/…).

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp']
export const PDF_TYPE = 'application/pdf'
export const ATTACH_ACCEPT = IMAGE_TYPES.join(',')
/** The server's default per-file limit (PARLOR_MAX_ATTACHMENT_BYTES): refused here before a slow upload. */
export const MAX_ATTACHMENT_BYTES = 8_000_000
export const MAX_ATTACHMENTS = 4

export function isImage(file: { type: string }): boolean {
  return IMAGE_TYPES.includes(file.type)
}

export function isPdf(file: { type: string; name?: string }): boolean {
  return file.type === PDF_TYPE
}

/** A picked, pasted or dropped file as the file part `sendMessage({files})` sends. */
export function toFilePart(file: File): Promise<FileUIPart> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve({ type: 'file', mediaType: file.type, filename: file.name, url: String(reader.result) })
    reader.onerror = () => reject(reader.error ?? new Error(`Could not read ${file.name}`))
    reader.readAsDataURL(file)
  })
}

/** The file parts of a message. */
export function filesOf(parts: ReadonlyArray<{ type: string }>): FileUIPart[] {
  return parts.filter((p): p is FileUIPart => p.type === 'file')
}

/**
 * A URL an <img> can show: a data: URL as it is; Parlor's own (which needs the key) fetched once with it
 * and shown from memory. null while loading or when it failed.
 */
export function useFileUrl(url: string, key: string | null): string | null {
  const inline = url.startsWith('data:') || url.startsWith('blob:')
  const [loaded, setLoaded] = useState<string | null>(null)
  useEffect(() => {
    if (inline) return
    let objectUrl: string | null = null
    let cancelled = false
    apiFetch(url, key)
      .then((res) => res.blob())
      .then((blob) => {
        if (cancelled) return
        objectUrl = URL.createObjectURL(blob)
        setLoaded(objectUrl)
      })
      .catch(() => setLoaded(null))
    return () => {
      cancelled = true
      if (objectUrl) URL.revokeObjectURL(objectUrl)
    }
  }, [inline, key, url])
  return inline ? url : loaded
}

/**
 * The messages useChat posts, with the images of all but the newest message left out: the server reads only
 * the newest message (it keeps the thread), so earlier data: URLs would only make every request heavier.
 */
export function withoutEarlierFiles<M extends { parts: ReadonlyArray<{ type: string }> }>(messages: M[]): M[] {
  return messages.map((m, i) => (i === messages.length - 1 ? m : { ...m, parts: m.parts.filter((p) => p.type !== 'file') }))
}
