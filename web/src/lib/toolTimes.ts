import { DefaultChatTransport, type UIMessage, type UIMessageChunk } from 'ai'

/**
 * How long each live tool call took, as the browser saw it: from its arguments being complete to its
 * result. The stream carries no duration (stored messages do: `durationMs`), so the chat transport
 * (the AI SDK's own, subclassed only to watch its parsed chunks go by) notes the times here.
 * Replayed streams (resume) are not timed: their chunks arrive all at once.
 */
const started = new Map<string, number>()
const durations = new Map<string, number>()
const listeners = new Set<() => void>()

export function noteChunk(chunk: UIMessageChunk, now = performance.now()): void {
  if (chunk.type === 'tool-input-available' || chunk.type === 'tool-input-start') {
    if (!started.has(chunk.toolCallId) || chunk.type === 'tool-input-available') started.set(chunk.toolCallId, now)
  } else if (chunk.type === 'tool-output-available' || chunk.type === 'tool-output-error') {
    const start = started.get(chunk.toolCallId)
    if (start != null && !durations.has(chunk.toolCallId)) {
      durations.set(chunk.toolCallId, now - start)
      listeners.forEach((notify) => notify())
    }
  }
}

export function liveDuration(toolCallId: string): number | null {
  return durations.get(toolCallId) ?? null
}

export function onDurations(listener: () => void): () => void {
  listeners.add(listener)
  return () => void listeners.delete(listener)
}

export class TimedChatTransport extends DefaultChatTransport<UIMessage> {
  async sendMessages(options: Parameters<DefaultChatTransport<UIMessage>['sendMessages']>[0]) {
    const stream = await super.sendMessages(options)
    return stream.pipeThrough(
      new TransformStream<UIMessageChunk, UIMessageChunk>({
        transform(chunk, controller) {
          noteChunk(chunk)
          controller.enqueue(chunk)
        },
      }),
    )
  }
}
