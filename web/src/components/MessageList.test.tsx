import { render, screen } from '@testing-library/react'
import type { UIMessage } from 'ai'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { MessageList } from './MessageList'

const msg = (id: string, role: 'user' | 'assistant', text: string): UIMessage => ({ id, role, parts: [{ type: 'text', text }] })

const convo = [msg('u1', 'user', 'first'), msg('a1', 'assistant', 'one'), msg('u2', 'user', 'second'), msg('a2', 'assistant', 'two')]

// jsdom lays nothing out: give every element a size so the virtualiser has a viewport to fill.
const sizes = { offsetHeight: 800, offsetWidth: 800, clientHeight: 800, clientWidth: 800 }
const saved = Object.keys(sizes).map((name) => [name, Object.getOwnPropertyDescriptor(HTMLElement.prototype, name)] as const)
beforeAll(() => {
  for (const [name, value] of Object.entries(sizes)) {
    Object.defineProperty(HTMLElement.prototype, name, { configurable: true, get: () => value })
  }
})
afterAll(() => {
  for (const [name, descriptor] of saved) {
    if (descriptor) Object.defineProperty(HTMLElement.prototype, name, descriptor)
    else delete (HTMLElement.prototype as unknown as Record<string, unknown>)[name]
  }
})

describe('MessageList', () => {
  it('offers regenerate on the last answer and edit on the last question only', () => {
    render(<MessageList messages={convo} busy={false} onRegenerate={vi.fn()} onEdit={vi.fn()} followKey={0} />)
    expect(screen.getAllByTestId('regenerate')).toHaveLength(1)
    expect(screen.getAllByTestId('edit-message')).toHaveLength(1)
    expect(screen.getAllByTestId('copy-message')).toHaveLength(4)
    const lastAnswer = screen.getAllByTestId('message-assistant')[1].closest('article')!
    expect(lastAnswer.querySelector('[data-testid="regenerate"]')).not.toBeNull()
  })

  it('hides the actions while an answer streams, and marks it busy for screen readers', () => {
    render(<MessageList messages={convo} busy onRegenerate={vi.fn()} onEdit={vi.fn()} followKey={0} />)
    expect(screen.queryByTestId('regenerate')).toBeNull()
    expect(screen.queryByTestId('edit-message')).toBeNull()
    const streaming = screen.getAllByTestId('message-assistant')[1]
    expect(streaming.getAttribute('aria-busy')).toBe('true')
    expect(streaming.getAttribute('aria-live')).toBe('polite')
  })

  it('edits the last question and resends it', async () => {
    const onEdit = vi.fn()
    const { default: userEvent } = await import('@testing-library/user-event')
    render(<MessageList messages={convo} busy={false} onRegenerate={vi.fn()} onEdit={onEdit} followKey={0} />)
    await userEvent.click(screen.getByTestId('edit-message'))
    const box = screen.getByLabelText('Edit your message')
    await userEvent.clear(box)
    await userEvent.type(box, 'second, better{Enter}')
    expect(onEdit).toHaveBeenCalledWith('u2', 'second, better')
  })

  it('renders only part of a long thread (virtualised)', () => {
    const many = Array.from({ length: 500 }, (_, i) => msg(`m${i}`, i % 2 ? 'assistant' : 'user', `message ${i}`))
    render(<MessageList messages={many} busy={false} onRegenerate={vi.fn()} onEdit={vi.fn()} followKey={0} />)
    const rendered = screen.getAllByRole('article').length
    expect(rendered).toBeGreaterThan(0)
    expect(rendered).toBeLessThan(60)
  })
})
