import { request } from './http'

export type Rating = 'up' | 'down'
export type Feedback = { rating: Rating | null; comment: string | null }

/** What the user set in this session, by message id: a row re-rendered (virtualised list) keeps it. */
const given = new Map<string, Feedback>()

export function knownFeedback(messageId: string, stored: Feedback | null | undefined): Feedback {
  return given.get(messageId) ?? stored ?? { rating: null, comment: null }
}

/** Rates an answer (`rating: null` clears it); the server's answer is what is kept. */
export async function sendFeedback(key: string | null, messageId: string, feedback: Feedback): Promise<Feedback> {
  const body = await request<Partial<Feedback>>(`/api/messages/${encodeURIComponent(messageId)}/feedback`, key, {
    method: 'POST',
    body: JSON.stringify(feedback),
  })
  const saved = { rating: body.rating ?? null, comment: body.comment ?? null }
  given.set(messageId, saved)
  return saved
}
