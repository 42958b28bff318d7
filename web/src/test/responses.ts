// Helpers for the unit tests: answers as the server would send them.

/** A Server-Sent Events response carrying these JSON events (then `[DONE]` unless `open`). */
export function sseResponse(events: object[], { done = true }: { done?: boolean } = {}): Response {
  const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '')
  return new Response(text, { headers: { 'Content-Type': 'text/event-stream' } })
}

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}
