import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Model } from '../lib/models'
import { assistant } from '../test/assistants'
import { jsonResponse, sseResponse } from '../test/responses'
import Chat from './Chat'
import ChatLoader from './ChatLoader'

beforeAll(() => {
  for (const name of ['offsetHeight', 'offsetWidth', 'clientHeight', 'clientWidth']) {
    Object.defineProperty(HTMLElement.prototype, name, { configurable: true, get: () => 800 })
  }
})
afterEach(() => vi.unstubAllGlobals())

const MODELS: Model[] = [
  { id: 'fast', label: 'Fast', kind: 'openai', model: 'm', default: true, context_window: null, price: null,
    capabilities: { vision: false, tools: true, reasoning: false } },
  { id: 'deep', label: 'Deep', kind: 'openai', model: 'm2', default: false, context_window: null, price: null,
    capabilities: { vision: false, tools: true, reasoning: true } },
]

const tutor = assistant('a1', { name: 'Math tutor', description: 'Helps with algebra', model: 'deep',
  starters: ['Explain derivatives', 'Quiz me'] })

/** The chat and assistant routes: resume finds nothing, posts answer "ok"; returns the chat bodies posted. */
function server(found = true) {
  const bodies: Record<string, unknown>[] = []
  vi.stubGlobal('fetch', vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input)
    if (url.endsWith('/stream')) return new Response(null, { status: 204 })
    if (url === '/api/assistants/a1') {
      return found ? jsonResponse(tutor) : jsonResponse({ error: { code: 'assistant_not_found', message: 'no' } }, 404)
    }
    if (url.startsWith('/api/threads/')) return jsonResponse({ error: { code: 'not_found', message: 'no' } }, 404)
    bodies.push(JSON.parse(String(init?.body)))
    return sseResponse([{ type: 'start', messageId: 'a' }, { type: 'text-start', id: 't' },
      { type: 'text-delta', id: 't', delta: 'ok' }, { type: 'text-end', id: 't' }, { type: 'finish' }])
  }))
  return bodies
}

describe('a chat with an assistant', () => {
  it('welcomes with its description and starters; a starter is sent, naming the assistant, not a model', async () => {
    const bodies = server()
    render(<Chat chatId="c1" apiKey="k" initialMessages={[]} tier="free" models={MODELS} assistant={tutor} />)
    expect(screen.getByTestId('assistant-welcome').textContent).toContain('Helps with algebra')
    // its model is the one shown (the server tries it first)
    expect((screen.getByLabelText('Model') as HTMLSelectElement).value).toBe('deep')
    await userEvent.click(screen.getByRole('button', { name: 'Quiz me' }))
    await screen.findByText('ok')
    expect(bodies[0]).toMatchObject({ assistant: 'a1' })
    expect(bodies[0]).not.toHaveProperty('model')
    expect(JSON.stringify(bodies[0])).toContain('Quiz me')
    // a model picked by hand goes with the next message
    await userEvent.selectOptions(screen.getByLabelText('Model'), 'fast')
    await userEvent.type(screen.getByTestId('message-input'), 'again{Enter}')
    await waitFor(() => expect(bodies).toHaveLength(2))
    expect(bodies[1]).toMatchObject({ assistant: 'a1', model: 'fast' })
  })

  it('a new chat started with one fetches it and tells the header', async () => {
    server()
    const onAssistant = vi.fn()
    render(<ChatLoader chatId="c2" fresh apiKey="k" tier="free" models={MODELS} assistantId="a1"
      onAssistant={onAssistant} />)
    expect(await screen.findByRole('button', { name: 'Explain derivatives' })).toBeTruthy()
    expect(onAssistant).toHaveBeenLastCalledWith('c2', expect.objectContaining({ id: 'a1', name: 'Math tutor' }))
  })

  it('one not shared with this user (any more) says so instead of a chat', async () => {
    server(false)
    render(<ChatLoader chatId="c3" fresh apiKey="k" tier="free" models={MODELS} assistantId="a1" />)
    expect((await screen.findByTestId('assistant-unavailable')).textContent).toContain('not available to you')
    expect(screen.queryByTestId('message-input')).toBeNull()
  })
})
