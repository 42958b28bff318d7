import { render, screen, waitFor } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { sseResponse } from '../test/responses'
import { DocumentCard, kindLabel } from './DocumentCard'

afterEach(() => vi.unstubAllGlobals())

const base = { name: 'handbook.pdf', mediaType: 'application/pdf', stage: 'queued', error: null }

describe('DocumentCard', () => {
  it('shows the progress bar fed by the events, then “Ready — ask about it”', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    vi.stubGlobal('fetch', vi.fn(async () => {
      await gate
      return sseResponse([{ status: 'processing', stage: 'embedding', progress: 55, error: null },
        { status: 'ready', stage: 'ready', progress: 100, error: null, pages: 50, chunks: 120 }])
    }))
    render(<DocumentCard data={{ ...base, documentId: 'd1', status: 'queued', progress: 0 }} />)
    const bar = screen.getByRole('progressbar', { name: 'Processing handbook.pdf' })
    expect(bar.getAttribute('aria-valuenow')).toBe('0')
    expect(screen.getByTestId('document-stage').textContent).toBe('Waiting in line · 0%')
    expect(screen.getByRole('link', { name: 'handbook.pdf' }).getAttribute('href')).toBe('/d/d1')
    release()
    await waitFor(() => expect(screen.getByTestId('document-status').textContent).toContain('Ready — ask about it'))
    expect(screen.queryByRole('progressbar')).toBeNull()
    expect(screen.getByTestId('document-status').getAttribute('aria-live')).toBe('polite')
    expect(screen.getByTestId('document-status').textContent).toContain('50 pages · 120 passages')
  })

  it('a failed document says why, and a settled one opens no stream', () => {
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)
    render(<DocumentCard data={{ ...base, documentId: 'd2', status: 'failed', progress: 10,
      error: 'The PDF is encrypted.' }} />)
    expect(screen.getByTestId('document-status').textContent).toBe('Failed: The PDF is encrypted.')
    expect(screen.queryByRole('progressbar')).toBeNull()
    expect(fetch).not.toHaveBeenCalled()
  })

  it('labels the kind of file', () => {
    expect(kindLabel('x.pdf', 'application/pdf')).toBe('PDF')
    expect(kindLabel('notes.docx', null)).toBe('DOCX')
    expect(kindLabel('README', undefined)).toBe('FILE')
  })
})
