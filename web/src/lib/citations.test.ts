import type { UIMessage } from 'ai'
import { describe, expect, it } from 'vitest'
import { citations, documentHref } from './citations'

type Part = UIMessage['parts'][number]

const doc = (sourceId: string, title: string, parlor?: object): Part =>
  ({ type: 'source-document', sourceId, mediaType: 'application/pdf', title, filename: 'handbook.pdf',
    ...(parlor ? { providerMetadata: { parlor } } : {}) }) as Part

describe('citations', () => {
  it('links each document source to its page, from Parlor metadata', () => {
    const cited = citations([doc('d1:7', 'handbook.pdf, p. 4', { documentId: 'd1', page: 4, chunk: 7 })])
    expect(cited).toEqual([{ n: 1, title: 'handbook.pdf, p. 4', href: '/d/d1#page-4', external: false,
      documentId: 'd1', page: 4 }])
  })

  it('falls back to the source id (document:chunk) and the title (p. N)', () => {
    const [c] = citations([doc('abc123:12', 'notes.pdf, p. 31')])
    expect([c.documentId, c.page, c.href]).toEqual(['abc123', 31, '/d/abc123#page-31'])
    const [plain] = citations([doc('abc123:0', 'notes.md')])
    expect([plain.page, plain.href]).toEqual([null, '/d/abc123'])
  })

  it('numbers from 1, one chip per page cited, web sources too', () => {
    const cited = citations([
      { type: 'text', text: 'x' } as Part,
      doc('d1:1', 'a.pdf, p. 2', { documentId: 'd1', page: 2, chunk: 1 }),
      doc('d1:2', 'a.pdf, p. 2', { documentId: 'd1', page: 2, chunk: 2 }),
      doc('d1:5', 'a.pdf, p. 3', { documentId: 'd1', page: 3, chunk: 5 }),
      { type: 'source-url', sourceId: 'u', url: 'https://example.com/x' } as Part,
    ])
    expect(cited.map((c) => [c.n, c.title, c.href])).toEqual([
      [1, 'a.pdf, p. 2', '/d/d1#page-2'], [2, 'a.pdf, p. 3', '/d/d1#page-3'], [3, 'example.com', 'https://example.com/x']])
    expect(cited[2].external).toBe(true)
  })

  it('escapes the id in the link', () => {
    expect(documentHref('a b', 2)).toBe('/d/a%20b#page-2')
  })
})
