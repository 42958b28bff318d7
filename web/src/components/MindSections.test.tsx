import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { tokensPerDay, type MemoryItem } from '../lib/mind'
import { ApiKeyContext } from '../lib/session'
import { jsonResponse } from '../test/responses'
import { InstructionsSection } from './InstructionsSection'
import { MemoriesSection } from './MemoriesSection'
import { RememberNotice, savedMemory } from './RememberNotice'
import { UsageSection } from './UsageSection'

type Call = { method: string; url: string; body: unknown }

/** The server's answers by "METHOD /path", over state the test holds. */
function fakeServer(routes: Record<string, (body: any, url: string) => Response>) {
  const calls: Call[] = []
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET'
    const body = init.body ? JSON.parse(String(init.body)) : null
    calls.push({ method, url, body })
    const path = url.split('?')[0]
    const handler = routes[`${method} ${path}`] ?? routes[`${method} ${path.replace(/[^/]+$/, ':id')}`]
    return handler ? handler(body, url) : jsonResponse({ error: { code: 'not_found', message: 'no' } }, 404)
  }))
  return calls
}

const withKey = (ui: React.ReactNode) => render(<ApiKeyContext.Provider value="pk-mine">{ui}</ApiKeyContext.Provider>)

afterEach(() => vi.unstubAllGlobals())

describe('InstructionsSection', () => {
  it('loads, counts, saves both texts, and says a refusal in words', async () => {
    let saved = { about: 'I teach chemistry.', style: '', tokens: 4, max_tokens: 400, max_chars: 1500, updated_at: null }
    const calls = fakeServer({
      'GET /api/me/instructions': () => jsonResponse(saved),
      'PUT /api/me/instructions': (body) => {
        if (body.style.includes('long')) {
          return jsonResponse({ error: { code: 'instructions_too_long', message: 'at most 400 fit' } }, 422)
        }
        saved = { ...saved, ...body, tokens: 9 }
        return jsonResponse(saved)
      },
    })
    withKey(<InstructionsSection apiKey="pk-mine" />)
    const about = await screen.findByDisplayValue('I teach chemistry.')
    expect(screen.getByText('18 / 1500 characters')).toBeTruthy()
    const save = screen.getByRole('button', { name: 'Save instructions' }) as HTMLButtonElement
    expect(save.disabled).toBe(true) // nothing changed yet
    await userEvent.type(screen.getByLabelText('How should it answer?'), 'Be brief.')
    await userEvent.click(save)
    expect(await screen.findByText('Saved: 9 of 400 tokens.')).toBeTruthy()
    expect(calls.at(-1)).toEqual({ method: 'PUT', url: '/api/me/instructions',
      body: { about: 'I teach chemistry.', style: 'Be brief.' } })
    await userEvent.type(screen.getByLabelText('How should it answer?'), ' Very long.')
    await userEvent.click(save)
    expect((await screen.findByRole('alert')).textContent).toBe('Not saved: at most 400 fit')
    expect((about as HTMLTextAreaElement).value).toBe('I teach chemistry.')
  })
})

describe('MemoriesSection', () => {
  function memory(id: string, text: string, thread: MemoryItem['thread'] = null): MemoryItem {
    return { id, text, tokens: 5, thread_id: thread?.id ?? null, thread, created_at: '2026-12-01T10:00:00Z' }
  }

  it('lists each memory with its chat, edits one inline, adds one, deletes one after confirming', async () => {
    let memories = [memory('m1', 'Their name is Zorblat.', { id: 't1', title: 'Introductions' }),
      memory('m2', 'Likes tea.')]
    const calls = fakeServer({
      'GET /api/memories': () => jsonResponse({ memories, enabled: true }),
      'PATCH /api/memories/:id': (body, url) => {
        const id = url.split('/').pop()!
        memories = memories.map((m) => (m.id === id ? { ...m, text: body.text } : m))
        return jsonResponse(memories.find((m) => m.id === id))
      },
      'POST /api/memories': (body) => {
        memories = [memory('m3', body.text), ...memories]
        return jsonResponse(memories[0], 201)
      },
      'DELETE /api/memories/:id': (_, url) => {
        memories = memories.filter((m) => m.id !== url.split('/').pop())
        return new Response(null, { status: 204 })
      },
    })
    withKey(<MemoriesSection apiKey="pk-mine" />)
    const list = await screen.findByRole('list', { name: 'Saved memories' })
    const link = within(list).getByRole('link', { name: 'from “Introductions”' })
    expect(link.getAttribute('href')).toBe('/t/t1')
    expect(within(list).getByText('added by you')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'Edit “Their name is Zorblat.”' }))
    const input = screen.getByLabelText('Memory text')
    expect(document.activeElement).toBe(input)
    await userEvent.clear(input)
    await userEvent.type(input, 'Their name is Zorblat the Great.{Enter}')
    expect(await screen.findByText('Their name is Zorblat the Great.')).toBeTruthy()
    expect(calls.find((c) => c.method === 'PATCH')).toEqual({ method: 'PATCH', url: '/api/memories/m1',
      body: { text: 'Their name is Zorblat the Great.' } })

    await userEvent.type(screen.getByLabelText('Add a memory'), 'Prefers metric units.')
    await userEvent.click(screen.getByRole('button', { name: 'Add' }))
    expect(await screen.findByText('Prefers metric units.')).toBeTruthy()

    await userEvent.click(screen.getByRole('button', { name: 'Delete “Likes tea.”' }))
    const dialog = screen.getByTestId('confirm-dialog')
    expect(dialog.textContent).toContain('“Likes tea.” will be forgotten')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete' }))
    await waitFor(() => expect(screen.queryByText('Likes tea.')).toBeNull())
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.url)).toEqual(['/api/memories/m2'])
  })

  it('Escape cancels an edit and keeps the text', async () => {
    fakeServer({ 'GET /api/memories': () => jsonResponse({ memories: [memory('m1', 'Likes tea.')], enabled: true }) })
    withKey(<MemoriesSection apiKey="pk-mine" />)
    await userEvent.click(await screen.findByRole('button', { name: 'Edit “Likes tea.”' }))
    await userEvent.type(screen.getByLabelText('Memory text'), ' And coffee.{Escape}')
    expect(screen.queryByLabelText('Memory text')).toBeNull()
    expect(screen.getByText('Likes tea.')).toBeTruthy()
  })
})

describe('UsageSection', () => {
  it("shows today's tokens against the budget, the requests left, and 30 days of tokens", async () => {
    const today = new Date().toISOString().slice(0, 10)
    fakeServer({
      'GET /api/usage': () => jsonResponse({
        tier: 'free', days: [{ day: today, model: 'm', requests: 2, tokens_in: 700, tokens_out: 300 }],
        budget: { tokens_per_day: 4000, used_today: 1000, remaining_today: 3000, timezone: 'UTC' },
        limits: { requests_per_minute: 10, requests_per_hour: null },
        requests_left: { minute: 8, hour: null },
      }),
    })
    withKey(<UsageSection apiKey="pk-mine" />)
    const meter = await screen.findByRole('meter', { name: 'Tokens today' })
    expect(meter.getAttribute('value')).toBe('1000')
    expect(meter.getAttribute('max')).toBe('4000')
    expect(screen.getByText('1,000 of 4,000')).toBeTruthy()
    const requests = screen.getByTestId('usage-requests')
    expect(requests.textContent).toBe('Requests left this minute8 of 10') // no hourly limit: not shown
    const rows = within(await screen.findByTestId('usage-table')).getAllByRole('row')
    expect(rows).toHaveLength(31)
    expect(rows.at(-1)!.textContent).toBe(`${today}1000`)
    expect(screen.getByTestId('usage-canvas').getAttribute('aria-label')).toContain('1,000 in all')
  })

  it('without a daily budget: no meter, today’s tokens from the ledger, no request limits', async () => {
    const today = new Date().toISOString().slice(0, 10)
    fakeServer({
      'GET /api/usage': () => jsonResponse({
        tier: 'unlimited', days: [{ day: today, model: 'm', requests: 1, tokens_in: 40, tokens_out: 10 }],
        budget: { tokens_per_day: null, used_today: 0, remaining_today: null, timezone: 'UTC' },
        limits: { requests_per_minute: null, requests_per_hour: null }, requests_left: { minute: null, hour: null },
      }),
    })
    withKey(<UsageSection apiKey="pk-mine" />)
    const budget = await screen.findByTestId('usage-budget')
    expect(budget.textContent).toContain('Tokens today50')
    expect(budget.textContent).toContain('Your unlimited tier has no daily token budget.')
    expect(screen.queryByRole('meter')).toBeNull()
    expect(screen.getByTestId('usage-requests').textContent).toBe('Requestsno limit')
  })

  it('tokensPerDay fills the days without use with zeros, oldest first', () => {
    const points = tokensPerDay([{ day: '2026-12-03', model: 'a', requests: 1, tokens_in: 5, tokens_out: 5 },
      { day: '2026-12-03', model: 'b', requests: 1, tokens_in: 1, tokens_out: 0 }], 3, new Date('2026-12-04T10:00:00Z'))
    expect(points).toEqual([{ day: '2026-12-02', tokens: 0 }, { day: '2026-12-03', tokens: 11 },
      { day: '2026-12-04', tokens: 0 }])
  })
})

describe('RememberNotice', () => {
  it("reads the remember tool's output, and nothing else", () => {
    expect(savedMemory({ saved: 'Likes tea.', new: true, client: { memory_id: 'm1' } }))
      .toEqual({ text: 'Likes tea.', id: 'm1' })
    expect(savedMemory({ saved: 'Likes tea.', new: true })).toBeNull() // stored before it carried the id
    expect(savedMemory('42')).toBeNull()
  })

  it('says what was saved, and Undo forgets it', async () => {
    const calls = fakeServer({ 'DELETE /api/memories/:id': () => new Response(null, { status: 204 }) })
    withKey(<RememberNotice memory={{ id: 'm9', text: 'Their name is Zorblat.' }} />)
    expect(screen.getByRole('status').textContent).toBe('Saved to memory: Their name is Zorblat.')
    await userEvent.click(screen.getByRole('button', { name: 'Undo: forget “Their name is Zorblat.”' }))
    expect(await screen.findByText('Their name is Zorblat.', { selector: 's' })).toBeTruthy()
    expect(calls).toEqual([{ method: 'DELETE', url: '/api/memories/m9', body: null }])
    expect(screen.queryByRole('button', { name: /Undo/ })).toBeNull()
  })
})
