import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Assistant } from '../lib/assistants'
import { assistant } from '../test/assistants'
import { ApiKeyContext } from '../lib/session'
import { jsonResponse } from '../test/responses'
import AssistantsPage from './AssistantsPage'

function server(list: Assistant[]) {
  const calls: string[] = []
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
    calls.push(`${init.method ?? 'GET'} ${url}`)
    if (url === '/api/assistants') return jsonResponse({ assistants: list })
    if (init.method === 'DELETE') return new Response(null, { status: 204 })
    return jsonResponse({ error: { code: 'not_found', message: 'no' } }, 404)
  }))
  return calls
}

afterEach(() => vi.unstubAllGlobals())

describe('AssistantsPage', () => {
  it('shows each assistant with its owner and sharing; Chat starts a chat; only yours can be edited', async () => {
    server([assistant('a1', { mine: true, owner: { id: 'u1', name: 'ada' }, visibility: 'groups',
      groups: [{ id: 'g', name: 'Maths' }] }), assistant('a2')])
    const onChat = vi.fn()
    render(<ApiKeyContext.Provider value="k"><AssistantsPage onChat={onChat} /></ApiKeyContext.Provider>)
    const cards = await screen.findAllByTestId('assistant-card')
    expect(cards).toHaveLength(2)
    expect(cards[0].textContent).toContain('Yours · Maths')
    expect(cards[1].textContent).toContain('By grace · Everyone')
    expect(cards[1].textContent).toContain('What a2 does')
    expect(within(cards[0]).getByRole('link', { name: 'Edit Assistant a1' }).getAttribute('href')).toBe('/assistants/a1')
    expect(within(cards[1]).queryByRole('link', { name: /Edit/ })).toBeNull()
    expect(within(cards[1]).queryByRole('button', { name: /Delete/ })).toBeNull()
    await userEvent.click(within(cards[1]).getByRole('button', { name: 'Chat with Assistant a2' }))
    expect(onChat).toHaveBeenCalledWith('a2')
  })

  it('deletes one of yours after a confirmation', async () => {
    const calls = server([assistant('a1', { mine: true })])
    render(<AssistantsPage onChat={vi.fn()} />)
    await userEvent.click(await screen.findByRole('button', { name: 'Delete Assistant a1' }))
    const dialog = screen.getByTestId('confirm-dialog')
    expect(dialog.textContent).toContain('its documents will be deleted')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(screen.queryAllByTestId('assistant-card')).toHaveLength(0))
    expect(calls).toContain('DELETE /api/assistants/a1')
  })

  it('says when there are none, and when the list fails', async () => {
    server([])
    render(<AssistantsPage onChat={vi.fn()} />)
    expect(await screen.findByText(/No assistants yet/)).toBeTruthy()
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse({ error: { code: 'boom', message: 'Database down' } }, 503)))
    render(<AssistantsPage onChat={vi.fn()} />)
    expect((await screen.findByRole('alert')).textContent).toContain('Could not load the assistants: Database down')
  })
})
