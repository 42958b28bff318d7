import type { UIMessage } from 'ai'

type Part = UIMessage['parts'][number]

/** A numbered source under an answer: a page of one of the user's documents, or a web page. */
export type Citation = {
  n: number
  title: string
  /** Where the chip leads: the document page (`/d/{id}#page-N`) or the web address. */
  href: string | null
  external: boolean
  documentId: string | null
  page: number | null
}

type ParlorMeta = { documentId?: unknown; page?: unknown; chunk?: unknown }

function parlorMeta(part: Part): ParlorMeta {
  const meta = (part as { providerMetadata?: { parlor?: ParlorMeta } }).providerMetadata?.parlor
  return meta && typeof meta === 'object' ? meta : {}
}

/** The document and page a `source-document` part cites: from Parlor's metadata, else its id and title. */
export function documentSource(part: Extract<Part, { type: 'source-document' }>): { documentId: string | null; page: number | null } {
  const meta = parlorMeta(part)
  const fromId = part.sourceId.includes(':') ? part.sourceId.slice(0, part.sourceId.lastIndexOf(':')) : null
  const documentId = typeof meta.documentId === 'string' && meta.documentId ? meta.documentId : fromId
  const titled = /\bp(?:age|\.)\s*(\d+)\s*$/i.exec(part.title ?? '')
  const page = typeof meta.page === 'number' ? meta.page : titled ? Number(titled[1]) : null
  return { documentId, page }
}

export function documentHref(documentId: string, page: number | null): string {
  return `/d/${encodeURIComponent(documentId)}${page != null ? `#page-${page}` : ''}`
}

/** The message's sources, numbered from 1; the same page cited twice is one chip. */
export function citations(parts: Part[]): Citation[] {
  const out: Citation[] = []
  const seen = new Set<string>()
  for (const part of parts) {
    if (part.type === 'source-document') {
      const { documentId, page } = documentSource(part)
      const key = documentId ? `d:${documentId}:${page}` : `s:${part.sourceId}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push({ n: out.length + 1, title: part.title || part.filename || 'Document', external: false,
        href: documentId ? documentHref(documentId, page) : null, documentId, page })
    } else if (part.type === 'source-url') {
      if (seen.has(`u:${part.url}`)) continue
      seen.add(`u:${part.url}`)
      let title = part.title
      if (!title) {
        try {
          title = new URL(part.url, window.location.href).hostname
        } catch {
          title = part.url
        }
      }
      out.push({ n: out.length + 1, title, href: part.url, external: true, documentId: null, page: null })
    }
  }
  return out
}
