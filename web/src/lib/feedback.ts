import { ApiError, authHeaders, parseErrorBody } from './api'

export type Rating = 'up' | 'down'
export type Feedback = { rating: Rating | null; comment: string | null }

/** What the user set in this session, by message id: a row re-rendered (virtualised list) keeps it. */
const given = new Map<string, Feedback>()

export function knownFeedback(messageId: string, stored: Feedback | null | undefined): Feedback {
  return given.get(messageId) ?? stored ?? { rating: null, comment: null }
}

/** Rates an answer (`rating: null` clears it); the server's answer is what is kept. */
export async function sendFeedback(key: string | null, messageId: string, feedback: Feedback): Promise<Feedback> {
  const res = await fetch(`/api/messages/${encodeURIComponent(messageId)}/feedback`, {
    method: 'POST',
    headers: { ...authHeaders(key), 'Content-Type': 'application/json' },
    body: JSON.stringify(feedback),
  })
  if (!res.ok) {
    const parsed = parseErrorBody(await res.text())
    throw new ApiError(res.status, parsed?.code ?? 'http_error', parsed?.message ?? `${res.status} ${res.statusText}`)
  }
  const body = (await res.json()) as Partial<Feedback>
  const saved = { rating: body.rating ?? null, comment: body.comment ?? null }
  given.set(messageId, saved)
  return saved
}
