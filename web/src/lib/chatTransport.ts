import { DefaultChatTransport, type UIMessage } from 'ai'
import { withoutEarlierFiles } from './attachments'
import type { HttpFailure } from './errors'
import { authHeaders } from './http'

/** What useChat posts to `/api/chat`: the current key, the extras read at each request (the model picked
 *  last, the assistant), and the messages without files sent earlier. `onAnswer` hears each response's
 *  failure (or null): useChat keeps only a refused answer's body, the 429's Retry-After and RateLimit
 *  headers are read here. */
export function chatTransport(apiKey: string | null, extras: () => Record<string, unknown>,
  onAnswer: (failure: HttpFailure | null) => void): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport({
    api: '/api/chat',
    // A function, so every request reads the current key. The same header apiFetch adds; not apiFetch
    // itself, because useChat reads a refused answer's body to show its error.
    headers: () => authHeaders(apiKey),
    body: extras,
    prepareSendMessagesRequest: ({ body, id, messages, trigger, messageId }) => ({
      body: { ...body, id, messages: withoutEarlierFiles(messages), trigger, messageId },
    }),
    fetch: async (input, init) => {
      const response = await fetch(input, init)
      onAnswer(response.ok ? null : {
        status: response.status,
        retryAfter: response.headers.get('Retry-After'),
        rateLimit: response.headers.get('RateLimit'),
        rateLimitPolicy: response.headers.get('RateLimit-Policy'),
        at: Date.now(),
      })
      return response
    },
  })
}
