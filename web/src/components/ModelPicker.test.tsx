import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Model } from '../lib/models'
import { sseResponse } from '../test/responses'
import Chat from './Chat'

beforeAll(() => {
  for (const name of ['offsetHeight', 'offsetWidth', 'clientHeight', 'clientWidth']) {
    Object.defineProperty(HTMLElement.prototype, name, { configurable: true, get: () => 800 })
  }
})
afterEach(() => vi.unstubAllGlobals())

const MODELS: Model[] = [
  { id: 'fast', label: 'Fast', kind: 'openai', model: 'gpt-4o-mini', default: true, context_window: 128_000,
    capabilities: { vision: false, tools: true, reasoning: false }, price: { input: 0.15, output: 0.6 } },
  { id: 'claude', label: 'Claude', kind: 'anthropic', model: 'claude-sonnet-4-5', default: false, context_window: null,
    capabilities: { vision: true, tools: true, reasoning: true }, price: null },
]

function answer() {
  return sseResponse([{ type: 'start', messageId: `a${Math.random()}` }, { type: 'text-start', id: 't' },
    { type: 'text-delta', id: 't', delta: 'ok' }, { type: 'text-end', id: 't' }, { type: 'finish' }])
}

/** fetch for the chat: resume finds nothing; each post answers "ok"; returns the bodies posted. */
function chatServer(): { model?: string }[] {
  const bodies: { model?: string }[] = []
  vi.stubGlobal('fetch', vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input).endsWith('/stream')) return new Response(null, { status: 204 })
    bodies.push(JSON.parse(String(init?.body)))
    return answer()
  }))
  return bodies
}

/** Sends a message and waits for its answer (the `answers`-th "ok"). */
async function send(text: string, answers: number) {
  await userEvent.type(screen.getByTestId('message-input'), `${text}{Enter}`)
  await waitFor(() => expect(screen.getAllByText('ok')).toHaveLength(answers))
}

describe('the model picker', () => {
  it("starts at the thread's model, shows what it can do, and sends the one picked with each message", async () => {
    const bodies = chatServer()
    render(<Chat chatId="c1" apiKey="k" initialMessages={[]} tier="free" models={MODELS} threadModel="claude" />)
    const picker = screen.getByLabelText('Model') as HTMLSelectElement
    expect(picker.value).toBe('claude')
    const hints = within(screen.getByTestId('model-hints'))
    expect(hints.getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Sees images', 'Tools', 'Reasoning'])

    await send('first', 1)
    await waitFor(() => expect(bodies).toHaveLength(1))
    expect(bodies[0].model).toBe('claude')

    await userEvent.selectOptions(picker, 'fast')
    expect(hints.getAllByRole('listitem').map((li) => li.textContent)).toEqual(
      ['Text only', 'Tools', '128K context', '$0.15 / $0.6 per M tokens'])
    await send('second', 2)
    await waitFor(() => expect(bodies).toHaveLength(2))
    expect(bodies[1].model).toBe('fast')
  })

  it('a thread with no model (or one no longer offered) shows the default', () => {
    chatServer()
    render(<Chat chatId="c2" apiKey="k" initialMessages={[]} tier="free" models={MODELS} threadModel="retired" />)
    expect((screen.getByLabelText('Model') as HTMLSelectElement).value).toBe('fast')
  })

  it('without a model list there is no picker and no model is sent', async () => {
    const bodies = chatServer()
    render(<Chat chatId="c3" apiKey="k" initialMessages={[]} tier="free" />)
    expect(screen.queryByTestId('model-picker')).toBeNull()
    await send('hello', 1)
    await waitFor(() => expect(bodies).toHaveLength(1))
    expect(bodies[0]).not.toHaveProperty('model')
  })
})
