import type { UIMessage } from 'ai'
import { settledMessages, type StoredMessage } from './api'
import { request } from './http'

/** A message's place among its versions (it and its siblings: regenerated answers, edited questions). */
export type Versions = {
  /** From 1, in creation order. */
  index: number
  count: number
  ids: string[]
}

/** The versions the server sent with a stored message (none for a single one, or one not reloaded yet). */
export function versionsOf(message: UIMessage): Versions | null {
  const found = (message.metadata as { versions?: Versions } | undefined)?.versions
  return found && found.count > 1 && found.ids.length === found.count ? found : null
}

/** Switches the thread to the branch through `messageId` (PUT /api/threads/{id}/leaf): its messages. */
export async function switchVersion(chatId: string, key: string | null, messageId: string): Promise<StoredMessage[]> {
  const thread = await request<{ messages: StoredMessage[] }>(`/api/threads/${encodeURIComponent(chatId)}/leaf`, key, {
    method: 'PUT',
    body: JSON.stringify({ message_id: messageId }),
  })
  return settledMessages(thread.messages)
}
