import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import type { UIMessage } from 'ai'
import { describe, expect, it, vi } from 'vitest'
import { Message } from './Message'
import { VersionNav } from './VersionNav'

const versions = { index: 2, count: 3, ids: ['v1', 'v2', 'v3'] }

describe('VersionNav', () => {
  it('shows which version this is and steps to the one before and after', async () => {
    const onSelect = vi.fn()
    render(<VersionNav versions={versions} onSelect={onSelect} />)
    expect(screen.getByTestId('version-count').textContent).toBe('Version 2/3')
    await userEvent.click(screen.getByRole('button', { name: 'Previous version' }))
    await userEvent.click(screen.getByRole('button', { name: 'Next version' }))
    expect(onSelect.mock.calls).toEqual([['v1'], ['v3']])
  })

  it('is usable from the keyboard', async () => {
    const onSelect = vi.fn()
    render(<VersionNav versions={versions} onSelect={onSelect} />)
    await userEvent.tab()
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Previous version' }))
    await userEvent.keyboard('{Enter}')
    await userEvent.tab()
    await userEvent.keyboard(' ')
    expect(onSelect.mock.calls).toEqual([['v1'], ['v3']])
  })

  it('cannot step past the first or the last version', () => {
    const { rerender } = render(<VersionNav versions={{ ...versions, index: 1 }} onSelect={() => {}} />)
    expect(screen.getByRole('button', { name: 'Previous version' })).toHaveProperty('disabled', true)
    expect(screen.getByRole('button', { name: 'Next version' })).toHaveProperty('disabled', false)
    rerender(<VersionNav versions={{ ...versions, index: 3 }} onSelect={() => {}} />)
    expect(screen.getByRole('button', { name: 'Next version' })).toHaveProperty('disabled', true)
  })
})

describe('Message versions', () => {
  const answer = (count: number) => ({
    id: 'v2', role: 'assistant', parts: [{ type: 'text', text: 'Take two.' }],
    metadata: { status: 'complete', versions: { index: 2, count, ids: ['v1', 'v2', 'v3'].slice(0, count) } },
  }) as UIMessage

  it('a message with siblings shows its navigator; a lone one does not', () => {
    const { rerender } = render(<Message message={answer(2)} streaming={false} onVersion={() => {}} />)
    expect(screen.getByRole('group', { name: 'Versions' }).textContent).toContain('2/2')
    rerender(<Message message={{ ...answer(2), metadata: { status: 'complete' } }} streaming={false} />)
    expect(screen.queryByRole('group', { name: 'Versions' })).toBeNull()
  })

  it('while an answer runs, the versions show but do not switch', () => {
    render(<Message message={answer(3)} streaming={false} />)
    expect(screen.getByRole('button', { name: 'Previous version' })).toHaveProperty('disabled', true)
    expect(screen.getByRole('button', { name: 'Next version' })).toHaveProperty('disabled', true)
  })
})
