import { fireEvent, render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import type { FileUIPart, UIMessage } from 'ai'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { withoutEarlierFiles } from '../lib/attachments'
import { ApiKeyContext } from '../lib/session'
import { MessageFiles } from './Attachments'
import { Message } from './Message'

const DOT = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

afterEach(() => vi.unstubAllGlobals())

describe('MessageFiles', () => {
  it('shows an image as a thumbnail that opens a lightbox; Esc closes it', async () => {
    render(<MessageFiles files={[{ type: 'file', mediaType: 'image/png', url: DOT, filename: 'dot.png' }]} />)
    await userEvent.click(screen.getByRole('button', { name: 'Open dot.png' }))
    const box = screen.getByRole('dialog', { name: 'dot.png' })
    expect(box.getAttribute('aria-modal')).toBe('true')
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Close image' }))
    fireEvent.keyDown(window, { key: 'Escape' })
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Open dot.png' })) // focus goes back
  })

  it('loads a stored image from its authenticated route with the key', async () => {
    const fetch = vi.fn(async () => new Response(new Blob(['png']), { status: 200 }))
    vi.stubGlobal('fetch', fetch)
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:thumb', revokeObjectURL: () => {} }))
    const file: FileUIPart = { type: 'file', mediaType: 'image/jpeg', url: '/api/files/t1/abc12345.jpg', filename: 'p.jpg' }
    render(<ApiKeyContext.Provider value="sk-test"><MessageFiles files={[file]} /></ApiKeyContext.Provider>)
    await waitFor(() => expect(screen.getByRole('img', { name: 'p.jpg' }).getAttribute('src')).toBe('blob:thumb'))
    expect(fetch).toHaveBeenCalledWith('/api/files/t1/abc12345.jpg', expect.objectContaining({
      headers: expect.objectContaining({ Authorization: 'Bearer sk-test' }) }))
  })

  it('a user message shows its images above its text', () => {
    const message = { id: 'u1', role: 'user', parts: [
      { type: 'file', mediaType: 'image/png', url: DOT, filename: 'dot.png' }, { type: 'text', text: 'what is it?' }] } as UIMessage
    render(<Message message={message} streaming={false} />)
    expect(screen.getByTestId('message-files').contains(screen.getByRole('img', { name: 'dot.png' }))).toBe(true)
    expect(screen.getByTestId('message-user').textContent).toContain('what is it?')
  })
})

describe('withoutEarlierFiles', () => {
  it('keeps the images of the newest message only', () => {
    const file = { type: 'file', mediaType: 'image/png', url: DOT }
    const messages = [{ id: 'a', parts: [file, { type: 'text' }] }, { id: 'b', parts: [file] }]
    expect(withoutEarlierFiles(messages).map((m) => m.parts.map((p) => p.type))).toEqual([['text'], ['file']])
  })
})
