import { render, screen, within } from '@testing-library/react'
import type { UIMessage } from 'ai'
import { describe, expect, it } from 'vitest'
import { Message, messageText } from './Message'

describe('Message', () => {
  it('shows citations (source parts) as numbered chips', () => {
    const message = {
      id: 'a1',
      role: 'assistant',
      parts: [
        { type: 'text', text: 'Per the handbook [1] and the site [2].' },
        { type: 'source-document', sourceId: 's1', mediaType: 'application/pdf', title: 'Handbook, p. 4', filename: 'handbook.pdf' },
        { type: 'source-url', sourceId: 's2', url: 'https://example.com/page', title: 'Example' },
      ],
    } as UIMessage
    render(<Message message={message} streaming={false} />)
    const chips = within(screen.getByRole('list', { name: 'Sources' })).getAllByRole('listitem')
    expect(chips.map((c) => c.textContent)).toEqual(['1 Handbook, p. 4', '2 Example'])
    expect(within(chips[1]).getByRole('link').getAttribute('href')).toBe('https://example.com/page')
  })

  it('document citations link to the page of the document', () => {
    const message = {
      id: 'a4',
      role: 'assistant',
      parts: [
        { type: 'text', text: '27 days.' },
        { type: 'source-document', sourceId: 'doc9:14', mediaType: 'application/pdf', title: 'handbook.pdf, p. 12',
          filename: 'handbook.pdf', providerMetadata: { parlor: { documentId: 'doc9', page: 12, chunk: 14 } } },
      ],
    } as UIMessage
    render(<Message message={message} streaming={false} />)
    const link = within(screen.getByRole('list', { name: 'Sources' })).getByRole('link')
    expect(link.getAttribute('href')).toBe('/d/doc9#page-12')
    expect(link.getAttribute('target')).toBeNull() // opens in the app, not a new tab
  })

  it('a finished answer has feedback buttons; a streaming one does not', () => {
    const message = { id: 'a5', role: 'assistant', parts: [{ type: 'text', text: 'Done.' }],
      metadata: { feedback: { rating: 'up', comment: null } } } as UIMessage
    const { rerender } = render(<Message message={message} streaming />)
    expect(screen.queryByRole('button', { name: 'Good answer' })).toBeNull()
    rerender(<Message message={message} streaming={false} />)
    expect(screen.getByRole('button', { name: 'Good answer' }).getAttribute('aria-pressed')).toBe('true')
  })

  it('a message that attached a document shows its card, with no bubble nor actions', () => {
    const message = {
      id: 'u1',
      role: 'user',
      parts: [{ type: 'data-document', id: 'd1', data: { documentId: 'd1', name: 'q3.pdf', mediaType: 'application/pdf',
        status: 'ready', progress: 100, stage: 'ready', error: null } }],
    } as UIMessage
    render(<Message message={message} streaming={false} onEdit={() => {}} />)
    expect(screen.getByTestId('document-card').getAttribute('data-status')).toBe('ready')
    expect(screen.queryByTestId('message-user')).toBeNull()
    expect(screen.queryByRole('button', { name: 'Edit message' })).toBeNull()
  })

  it('marks a stopped answer and joins text parts for copying', () => {
    const message = {
      id: 'a2',
      role: 'assistant',
      parts: [{ type: 'step-start' }, { type: 'text', text: 'Half an ' }, { type: 'text', text: 'answer' }],
    } as UIMessage
    render(<Message message={message} streaming={false} status="aborted" />)
    expect(screen.getByText('Stopped.')).toBeTruthy()
    expect(messageText(message)).toBe('Half an answer')
  })

  it('an empty stopped answer says nothing itself (the chat offers Retry under it)', () => {
    render(<Message message={{ id: 'a6', role: 'assistant', parts: [{ type: 'step-start' }] }} streaming={false}
      status="aborted" />)
    expect(screen.queryByText('Stopped.')).toBeNull()
  })

  it('an answer with nothing yet shows Thinking while it streams', () => {
    render(<Message message={{ id: 'a3', role: 'assistant', parts: [{ type: 'step-start' }] }} streaming />)
    expect(screen.getByRole('status').textContent).toBe('Thinking…')
    expect(screen.queryByTestId('message-assistant')).toBeNull()
  })
})
