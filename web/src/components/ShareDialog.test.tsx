import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Share } from '../lib/shares'
import { jsonResponse } from '../test/responses'
import { ShareDialog } from './ShareDialog'
import SharedChat from './SharedChat'

afterEach(() => vi.unstubAllGlobals())

/** The share routes over a list of links held here. */
function fakeServer(links: Share[]) {
  const calls: { method: string; url: string; auth: string | null }[] = []
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET'
    calls.push({ method, url, auth: new Headers(init.headers).get('Authorization') })
    if (url === '/api/threads/t1/shares' && method === 'GET') return jsonResponse({ shares: links })
    if (url === '/api/threads/t1/shares' && method === 'POST') {
      const made = { id: `s${links.length + 1}`, title: 'Trip', created_at: '2026-12-04T10:00:00Z',
        through_message_id: 'm2', token: 'tok_123456789', url: '/s/tok_123456789' }
      links.unshift(made)
      return jsonResponse(made, 201)
    }
    const revoke = /^\/api\/shares\/(\w+)$/.exec(url)
    if (revoke && method === 'DELETE') {
      links.splice(links.findIndex((l) => l.id === revoke[1]), 1)
      return new Response(null, { status: 204 })
    }
    return jsonResponse({ error: { code: 'not_found', message: `unexpected ${method} ${url}` } }, 404)
  }))
  return calls
}

describe('ShareDialog', () => {
  it('makes a link shown once, lists the live ones and revokes them', async () => {
    const calls = fakeServer([{ id: 's0', title: 'Trip', created_at: '2026-12-01T10:00:00Z', through_message_id: 'm1' }])
    const onClose = vi.fn()
    render(<ShareDialog threadId="t1" apiKey="pk-mine" onClose={onClose} />)
    const dialog = screen.getByRole('dialog', { name: 'Share this chat' })
    await waitFor(() => expect(within(dialog).getAllByTestId('revoke-share')).toHaveLength(1))
    expect(document.activeElement).toBe(screen.getByTestId('create-share'))

    await userEvent.click(screen.getByTestId('create-share'))
    const url = await screen.findByTestId('share-url')
    expect((url as HTMLInputElement).value).toBe(`${window.location.origin}/s/tok_123456789`)
    expect(screen.getByText(/shown only this once/)).toBeTruthy()
    expect(within(dialog).getAllByTestId('revoke-share')).toHaveLength(2)

    await userEvent.click(within(dialog).getAllByTestId('revoke-share')[0])
    await waitFor(() => expect(within(dialog).getAllByTestId('revoke-share')).toHaveLength(1))
    expect(screen.queryByTestId('share-url')).toBeNull() // the revoked link is not offered to copy any more
    expect(calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.url}`))
      .toEqual(['POST /api/threads/t1/shares', 'DELETE /api/shares/s2'])
    expect(calls.every((c) => c.auth === 'Bearer pk-mine')).toBe(true)

    await userEvent.click(screen.getByTestId('close-share'))
    expect(onClose).toHaveBeenCalled()
  })

  it('says what to do when the chat has nothing to share yet', async () => {
    vi.stubGlobal('fetch', vi.fn(async (_url: string, init: RequestInit = {}) => init.method === 'POST'
      ? jsonResponse({ error: { code: 'thread_not_found', message: 'No such thread.' } }, 404)
      : jsonResponse({ shares: [] })))
    render(<ShareDialog threadId="t1" apiKey={null} onClose={() => {}} />)
    await screen.findByTestId('no-shares')
    await userEvent.click(screen.getByTestId('create-share'))
    expect((await screen.findByRole('alert')).textContent).toContain('Send a message first')
  })
})

describe('SharedChat', () => {
  it('shows the shared messages read only, with no key and no composer', async () => {
    const fetch = vi.fn(async () => jsonResponse({ title: 'Trip plans', created_at: '2026-12-04T10:00:00Z', messages: [
      { id: 'm1', role: 'user', parts: [{ type: 'text', text: 'Where first?' }], metadata: { status: 'complete' } },
      { id: 'm2', role: 'assistant', parts: [{ type: 'text', text: 'The **old bridge**.' }], metadata: { status: 'complete' } },
    ] }))
    vi.stubGlobal('fetch', fetch)
    render(<SharedChat token="tok_abc" />)
    expect((await screen.findByTestId('shared-banner')).textContent).toContain('Shared conversation — read only')
    expect(screen.getByTestId('chat-title').textContent).toContain('Trip plans')
    expect(screen.getByTestId('message-assistant').textContent).toContain('The old bridge.')
    expect(screen.queryByTestId('message-input')).toBeNull()
    expect(screen.queryByTestId('feedback-up')).toBeNull()
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toBe('/api/shared/tok_abc')
    expect(new Headers(init.headers).get('Authorization')).toBeNull()
  })

  it('says when the link is no longer shared', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse({ error: { code: 'share_not_found', message: 'gone' } }, 404)))
    render(<SharedChat token="tok_gone" />)
    expect(await screen.findByText('This link is no longer shared')).toBeTruthy()
    expect(screen.queryByTestId('shared-banner')).toBeNull()
  })
})
