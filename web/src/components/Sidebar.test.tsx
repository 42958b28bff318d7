import { fireEvent, render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import type { Thread } from '../lib/api'
import { Sidebar } from './Sidebar'

const threads: Thread[] = [
  { id: 't2', title: 'Lisbon trip', created_at: '2026-01-02', updated_at: '2026-01-02' },
  { id: 't1', title: 'Python asyncio', created_at: '2026-01-01', updated_at: '2026-01-01' },
]

function setup(overrides: Partial<Parameters<typeof Sidebar>[0]> = {}) {
  const props = {
    me: { id: 'u', name: 'alice', tier: 'free', role: 'user' },
    threads,
    loaded: true,
    loadError: null,
    hasMore: false,
    currentId: 't1',
    onOpen: vi.fn(),
    onNew: vi.fn(),
    onRename: vi.fn(async () => {}),
    onDelete: vi.fn(async () => {}),
    onLoadMore: vi.fn(),
    onSignOut: vi.fn(),
    ...overrides,
  }
  render(<Sidebar {...props} />)
  return props
}

describe('Sidebar', () => {
  it('lists threads newest first, marks the open one, opens on click', () => {
    const props = setup()
    const links = within(screen.getByTestId('thread-list')).getAllByRole('link')
    expect(links.map((a) => a.textContent)).toEqual(['Lisbon trip', 'Python asyncio'])
    expect(links[1].getAttribute('aria-current')).toBe('page')
    expect(links[0].getAttribute('href')).toBe('/t/t2')
    fireEvent.click(links[0])
    expect(props.onOpen).toHaveBeenCalledWith('t2')
  })

  it('filters the loaded titles', async () => {
    setup()
    await userEvent.type(screen.getByLabelText('Search chats'), 'lis')
    expect(within(screen.getByTestId('thread-list')).getAllByRole('link').map((a) => a.textContent)).toEqual(['Lisbon trip'])
    await userEvent.type(screen.getByLabelText('Search chats'), 'zzz')
    expect(screen.getByRole('status').textContent).toContain('No loaded chat matches')
  })

  it('renames with Enter, cancels with Esc', async () => {
    const props = setup()
    await userEvent.click(screen.getByRole('button', { name: 'Rename “Lisbon trip”' }))
    const input = screen.getByLabelText('New title')
    await userEvent.clear(input)
    await userEvent.type(input, 'Porto trip{Enter}')
    expect(props.onRename).toHaveBeenCalledWith('t2', 'Porto trip')

    await userEvent.click(screen.getByRole('button', { name: 'Rename “Python asyncio”' }))
    await userEvent.type(screen.getByLabelText('New title'), ' more{Escape}')
    expect(props.onRename).toHaveBeenCalledTimes(1)
  })

  it('deletes only after confirming', async () => {
    const props = setup()
    await userEvent.click(screen.getByRole('button', { name: 'Delete “Python asyncio”' }))
    const dialog = screen.getByTestId('confirm-dialog')
    expect(dialog.textContent).toContain('Python asyncio')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(props.onDelete).not.toHaveBeenCalled()
    await userEvent.click(screen.getByRole('button', { name: 'Delete “Python asyncio”' }))
    await userEvent.click(screen.getByTestId('confirm-button'))
    expect(props.onDelete).toHaveBeenCalledWith('t1')
  })

  it('shows the user and their tier', () => {
    setup()
    expect(screen.getByTestId('current-user').textContent).toBe('alice')
    expect(screen.getByTestId('tier-badge').textContent).toBe('free')
  })

  it('loads older chats on request', async () => {
    const props = setup({ hasMore: true })
    await userEvent.click(screen.getByRole('button', { name: 'Load older chats' }))
    expect(props.onLoadMore).toHaveBeenCalledOnce()
  })
})
