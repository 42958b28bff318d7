import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
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

  it('searches: loaded titles at once, then the server (titles and messages), debounced', async () => {
    const found: Thread = { id: 't9', title: 'Weekend plans', created_at: '2026-01-03', updated_at: '2026-01-03' }
    const fetch = vi.fn(async (url: string) =>
      new Response(JSON.stringify({ threads: new URL(url, 'http://x').searchParams.get('q') === 'lisbon'
        ? [found, threads[0]] : [], next_cursor: null })))
    vi.stubGlobal('fetch', fetch)
    try {
      setup({ apiKey: 'k' })
      await userEvent.type(screen.getByLabelText('Search chats'), 'lisbon')
      // before the server answers: the loaded titles that match
      expect(within(screen.getByTestId('thread-list')).getAllByRole('link').map((a) => a.textContent)).toEqual(['Lisbon trip'])
      // then the server's results, including a chat that mentions it only in a message
      await waitFor(() =>
        expect(within(screen.getByTestId('thread-list')).getAllByRole('link').map((a) => a.textContent))
          .toEqual(['Weekend plans', 'Lisbon trip']))
      expect(fetch).toHaveBeenCalledTimes(1) // one request for the whole word, not one per letter
      const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
      expect(url).toContain('q=lisbon')
      expect((init.headers as Record<string, string>).Authorization).toBe('Bearer k')
      await userEvent.clear(screen.getByLabelText('Search chats'))
      await userEvent.type(screen.getByLabelText('Search chats'), 'zzz')
      expect((await screen.findByTestId('search-empty')).textContent).toBe('Searching…')
      await waitFor(() => expect(screen.getByTestId('search-empty').textContent).toBe('No chat mentions “zzz”.'))
    } finally {
      vi.unstubAllGlobals()
    }
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

  it('links to the assistants, marked current while they show', () => {
    setup({ assistantsOpen: true })
    const link = screen.getByRole('link', { name: 'Assistants' })
    expect(link.getAttribute('href')).toBe('/assistants')
    expect(link.getAttribute('aria-current')).toBe('page')
  })

  it('marks a chat with an assistant with its avatar (its title stays the link’s name)', () => {
    setup({ threads: [{ ...threads[0], assistant: { id: 'a1', name: 'Tutor', avatar: 'T', color: '#0e7490' } }] })
    const link = screen.getByRole('link', { name: 'Lisbon trip' })
    expect(link.querySelector('.assistant-avatar')?.textContent).toBe('T')
  })
})
