import { afterEach, describe, expect, it, vi } from 'vitest'
import { sseResponse } from '../test/responses'
import { followDocument, stageLabel, type DocumentProgress } from './documents'

const at = (status: DocumentProgress['status'], progress: number, stage: string = status): DocumentProgress =>
  ({ status, stage, progress, error: null })

afterEach(() => vi.unstubAllGlobals())

describe('followDocument', () => {
  it('reads progress events with the key, until the document is settled', async () => {
    const fetch = vi.fn(async () => sseResponse([at('queued', 0), at('processing', 40, 'embedding'), at('ready', 100)]))
    vi.stubGlobal('fetch', fetch)
    const seen: DocumentProgress[] = []
    await followDocument('k', 'doc1', (p) => seen.push(p), new AbortController().signal)
    expect(seen.map((p) => [p.status, p.progress])).toEqual([['queued', 0], ['processing', 40], ['ready', 100]])
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/documents/doc1/events')
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer k')
  })

  it('reconnects when the stream drops before the end, and picks up the current state', async () => {
    const fetch = vi.fn()
      .mockRejectedValueOnce(new TypeError('network down'))
      .mockResolvedValueOnce(sseResponse([at('processing', 20, 'parsing')], { done: false }))
      .mockResolvedValueOnce(sseResponse([at('processing', 60, 'embedding'), at('failed', 60, 'failed')]))
    vi.stubGlobal('fetch', fetch)
    const seen: DocumentProgress[] = []
    await followDocument(null, 'doc2', (p) => seen.push(p), new AbortController().signal)
    expect(fetch).toHaveBeenCalledTimes(3)
    expect(seen.map((p) => p.status)).toEqual(['processing', 'processing', 'failed'])
  })

  it('a document that is gone (404) ends as deleted', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{}', { status: 404 })))
    const seen: DocumentProgress[] = []
    await followDocument(null, 'gone', (p) => seen.push(p), new AbortController().signal)
    expect(seen.map((p) => p.status)).toEqual(['deleted'])
  })

  it('names stages for people', () => {
    expect(stageLabel('embedding')).toBe('Indexing')
    expect(stageLabel('ocr')).toBe('Ocr')
    expect(stageLabel(null)).toBe('Processing')
  })
})
