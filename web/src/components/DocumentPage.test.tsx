import { render, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../test/responses'
import DocumentPage, { byPage } from './DocumentPage'

afterEach(() => vi.unstubAllGlobals())

const doc = { id: 'd1', filename: 'handbook.pdf', content_type: 'application/pdf', thread_id: null, size_bytes: 20480,
  status: 'ready', stage: 'ready', progress: 100, error: null, pages: 3, chunks: 3, created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z' }
const chunks = [{ ordinal: 2, page: 3, text: 'Third page.' }, { ordinal: 0, page: 1, text: 'First page.' },
  { ordinal: 1, page: 1, text: 'More of the first.' }]

describe('DocumentPage', () => {
  it('groups passages by page, in order', () => {
    expect(byPage(chunks).map(([page, list]) => [page, list.map((c) => c.ordinal)])).toEqual([[1, [0, 1]], [3, [2]]])
  })

  it('shows the name, the text by page, and marks and scrolls to the cited page', async () => {
    const scrolled: string[] = []
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this.id)
    }
    vi.stubGlobal('fetch', vi.fn(async (url: string) => jsonResponse(url.endsWith('/chunks') ? { chunks } : doc)))
    render(<DocumentPage documentId="d1" hash="#page-3" />)
    expect((await screen.findByTestId('document-title')).textContent).toBe('handbook.pdf')
    await waitFor(() => expect(screen.getAllByTestId('document-page-section')).toHaveLength(2))
    const third = screen.getByRole('region', { name: 'Page 3' })
    expect(third.id).toBe('page-3')
    expect(third.className).toContain('doc-page-target')
    expect(within(third).getByText('Third page.')).toBeTruthy()
    expect(scrolled).toEqual(['page-3'])
    expect(screen.getByText(/PDF · 20 KB · 3 pages/)).toBeTruthy()
  })

  it('an unknown document says so', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      jsonResponse({ error: { code: 'document_not_found', message: 'No such document.' } }, 404)))
    render(<DocumentPage documentId="nope" hash="" />)
    expect((await screen.findByRole('alert')).textContent).toContain('No such document.')
  })
})
