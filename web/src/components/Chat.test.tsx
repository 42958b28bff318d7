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
})
