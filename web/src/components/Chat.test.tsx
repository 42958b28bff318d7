import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import Chat from './Chat'

beforeAll(() => {
  for (const name of ['offsetHeight', 'offsetWidth', 'clientHeight', 'clientWidth']) {
    Object.defineProperty(HTMLElement.prototype, name, { configurable: true, get: () => 800 })
  }
})

function sse(chunks: object[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`))
      controller.enqueue(encoder.encode('data: [DONE]\n\n'))
      controller.close()
    },
  })
}

const streamHeaders = { 'content-type': 'text/event-stream', 'x-vercel-ai-ui-message-stream': 'v1' }

function answer(text: string) {
  return sse([
    { type: 'start', messageId: 'a1' },
    { type: 'start-step' },
    { type: 'text-start', id: 't1' },
    ...text.split(' ').map((w, i) => ({ type: 'text-delta', id: 't1', delta: (i ? ' ' : '') + w })),
    { type: 'text-end', id: 't1' },
    { type: 'finish-step' },
    { type: 'finish', finishReason: 'stop' },
  ])
}

afterEach(() => vi.unstubAllGlobals())

/** A stream that sends `chunks`, then stays open until the request is aborted (as a real one would). */
function openStream(chunks: object[], signal?: AbortSignal | null): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`))
      signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')))
    },
  })
}

type Posted = { url: string; body: unknown }

/** fetch for the chat: resume finds nothing (or waits for `resumed`), posts get `answers` in turn. */
function chatServer(answers: ((signal?: AbortSignal | null) => ReadableStream<Uint8Array>)[],
  resumed: Promise<void> = Promise.resolve()) {
  const posted: Posted[] = []
  vi.stubGlobal('fetch', vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input)
    if (url.endsWith('/stream')) {
      await resumed
      return new Response(null, { status: 204 })
    }
    posted.push({ url, body: init?.body ? JSON.parse(String(init.body)) : null })
    if (url.endsWith('/stop')) return new Response(null, { status: 204 })
    return new Response(answers.shift()!(init?.signal), { headers: streamHeaders })
  }))
  return posted
}

describe('Chat', () => {
  it('shows the user message at once, then streams the answer as Markdown', async () => {
    let release: (r: Response) => void = () => {}
    const fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input)
      if (url.endsWith('/stream')) return Promise.resolve(new Response(null, { status: 204 }))
      expect(init?.method).toBe('POST')
      return new Promise<Response>((resolve) => {
        release = resolve
      })
    })
    vi.stubGlobal('fetch', fetchMock)
    render(<Chat chatId="c1" apiKey="k" initialMessages={[]} tier="free" />)
    await userEvent.type(screen.getByLabelText('Message'), 'hello **there**{Enter}')
    // Optimistic: the question is on screen before the server has answered anything.
    await waitFor(() => expect(screen.getByTestId('message-user').textContent).toBe('hello **there**'))
    expect(screen.getByTestId('stop-button')).toBeTruthy()
    const body = JSON.parse(String(fetchMock.mock.calls.find((c) => !String(c[0]).endsWith('/stream'))![1]!.body))
    expect(body).toMatchObject({ id: 'c1', trigger: 'submit-message' })
    release(new Response(answer('Hi **you** there'), { headers: streamHeaders }))
    await waitFor(() => expect(screen.getByTestId('message-assistant').textContent).toBe('Hi you there'))
    expect(screen.getByTestId('message-assistant').querySelector('strong')?.textContent).toBe('you')
    await waitFor(() => expect(screen.getByTestId('send-button')).toBeTruthy())
  })

  it('a 429 says when to retry and which tier, from the headers', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn((input: RequestInfo | URL) => {
        if (String(input).endsWith('/stream')) return Promise.resolve(new Response(null, { status: 204 }))
        return Promise.resolve(
          new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'Too many requests; retry in 30 s.', request_id: 'r9' } }), {
            status: 429,
            headers: { 'Retry-After': '30', RateLimit: '"minute";r=0;t=30', 'RateLimit-Policy': '"minute";q=3;w=60' },
          }),
        )
      }),
    )
    render(<Chat chatId="c2" apiKey="k" initialMessages={[]} tier="tiny" />)
    await userEvent.type(screen.getByLabelText('Message'), 'one more{Enter}')
    const alert = await screen.findByTestId('chat-error')
    expect(alert.getAttribute('data-kind')).toBe('rate-limited')
    expect(alert.textContent).toContain('Your tier: tiny (3 requests a minute)')
    expect(alert.textContent).toMatch(/try again in (30|29) s/)
    expect((screen.getByTestId('retry-button') as HTMLButtonElement).disabled).toBe(true)
    // The question stays, ready to be sent again.
    expect(screen.getByTestId('message-user').textContent).toBe('one more')
  })

  it('an error inside the stream offers to try again, which regenerates', async () => {
    const bodies: { trigger: string }[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
        if (String(input).endsWith('/stream')) return Promise.resolve(new Response(null, { status: 204 }))
        bodies.push(JSON.parse(String(init?.body)))
        if (bodies.length === 1) {
          return Promise.resolve(
            new Response(sse([{ type: 'start', messageId: 'a1' }, { type: 'error', errorText: 'All providers are unavailable.' }]), {
              headers: streamHeaders,
            }),
          )
        }
        return Promise.resolve(new Response(answer('Second try'), { headers: streamHeaders }))
      }),
    )
    render(<Chat chatId="c3" apiKey="k" initialMessages={[]} tier="free" />)
    await userEvent.type(screen.getByLabelText('Message'), 'hi{Enter}')
    const alert = await screen.findByTestId('chat-error')
    expect(alert.textContent).toContain("The model couldn't finish this answer.")
    expect(alert.textContent).toContain('All providers are unavailable.')
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }))
    await waitFor(() => expect(screen.getByTestId('message-assistant').textContent).toBe('Second try'))
    expect(bodies[1].trigger).toBe('regenerate-message')
    expect(screen.queryByTestId('chat-error')).toBeNull()
  })

  it('Stop before the first token says so at once and offers Retry, which asks the question again', async () => {
    const posted = chatServer([
      (signal) => openStream([{ type: 'start', messageId: 'a1' }, { type: 'start-step' }], signal),
      () => answer('The sky scatters blue light.'),
    ])
    render(<Chat chatId="c4" apiKey="k" initialMessages={[]} tier="free" />)
    await userEvent.type(screen.getByLabelText('Message'), 'why is the sky blue{Enter}')
    await screen.findByText('Thinking…')
    await userEvent.click(screen.getByTestId('stop-button'))
    await waitFor(() => expect(screen.getByTestId('retry-notice').textContent).toContain('Stopped before the answer began.'))
    expect(posted.some((p) => p.url.endsWith('/api/chat/c4/stop'))).toBe(true)
    await userEvent.click(screen.getByRole('button', { name: 'Retry' }))
    await waitFor(() => expect(screen.getByTestId('message-assistant').textContent).toBe('The sky scatters blue light.'))
    const resent = posted[posted.length - 1].body as { trigger: string; messageId: string; messages: { id: string }[] }
    expect(resent.trigger).toBe('submit-message')
    expect(resent.messageId).toBe(resent.messages[0].id) // the same question, replaced (with its empty answer)
    expect(resent.messages).toHaveLength(1)
    expect(screen.queryByTestId('retry-notice')).toBeNull()
    expect(screen.getAllByTestId('message-user')).toHaveLength(1)
  })

  it('Stop mid-answer marks the partial answer Stopped at once', async () => {
    chatServer([(signal) => openStream([{ type: 'start', messageId: 'a1' }, { type: 'start-step' },
      { type: 'text-start', id: 't1' }, { type: 'text-delta', id: 't1', delta: 'Half an' }], signal)])
    render(<Chat chatId="c5" apiKey="k" initialMessages={[]} tier="free" />)
    await userEvent.type(screen.getByLabelText('Message'), 'go on{Enter}')
    await waitFor(() => expect(screen.getByTestId('message-assistant').textContent).toBe('Half an'))
    await userEvent.click(screen.getByTestId('stop-button'))
    await screen.findByText('Stopped.')
    expect(screen.queryByTestId('retry-notice')).toBeNull() // it has an answer: Regenerate is on it
    expect(screen.getByRole('button', { name: 'Regenerate answer' })).toBeTruthy()
  })

  it('a reloaded thread ending in a stopped empty answer, or in a bare question, offers Retry', async () => {
    const question = { id: 'u1', role: 'user' as const, parts: [{ type: 'text' as const, text: 'hello?' }] }
    const stopped = { id: 'a1', role: 'assistant' as const, parts: [{ type: 'step-start' as const }],
      metadata: { status: 'aborted' } }
    chatServer([])
    const { unmount } = render(<Chat chatId="c6" apiKey="k" initialMessages={[question, stopped]} tier="free" />)
    expect((await screen.findByTestId('retry-notice')).textContent).toContain('Stopped before the answer began.')
    unmount()

    let answered: () => void = () => {}
    chatServer([], new Promise<void>((resolve) => { answered = resolve }))
    render(<Chat chatId="c7" apiKey="k" initialMessages={[question]} tier="free" />)
    // Until the server says no answer is under way, the question may be one still being answered.
    await new Promise((r) => setTimeout(r, 50))
    expect(screen.queryByTestId('retry-notice')).toBeNull()
    answered()
    expect((await screen.findByTestId('retry-notice')).textContent).toContain('This question has no answer.')
  })
})
