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

  it('an answer with nothing yet shows Thinking while it streams', () => {
    render(<Message message={{ id: 'a3', role: 'assistant', parts: [{ type: 'step-start' }] }} streaming />)
    expect(screen.getByRole('status').textContent).toBe('Thinking…')
    expect(screen.queryByTestId('message-assistant')).toBeNull()
  })
})
