import type { UIMessage } from 'ai'
import { useEffect, useState } from 'react'
import { fetchThread } from '../lib/api'
import type { AssistantSummary, ChatAssistant } from '../lib/assistants'
import { describeError } from '../lib/http'
import type { Model } from '../lib/models'
import { onLinkClick } from '../lib/nav'
import { useChatAssistant } from '../lib/useChatAssistant'
import Chat from './Chat'

type Props = {
  chatId: string
  fresh: boolean
  apiKey: string | null
  tier: string | null
  /** The models the user may choose. */
  models: Model[]
  onSent?: (chatId: string, text: string) => void
  onSettled?: (chatId: string) => void
  /** The stored thread's title, once loaded (a deep link to a chat not in the loaded list). */
  onTitle?: (chatId: string, title: string) => void
  /** The assistant a new chat starts with (a stored thread's own wins). */
  assistantId?: string | null
  /** The chat's assistant, once known (null: none): the header shows it. */
  onAssistant?: (chatId: string, assistant: ChatAssistant | null) => void
}

/** Loads a thread's stored messages, then opens the chat on them (useChat reads them only once). */
export default function ChatLoader({ chatId, fresh, apiKey, tier, models, onSent, onSettled, onTitle,
  assistantId = null, onAssistant }: Props) {
  const [messages, setMessages] = useState<UIMessage[] | null>(fresh ? [] : null)
  const [threadModel, setThreadModel] = useState<string | null>(null)
  const [threadAssistant, setThreadAssistant] = useState<AssistantSummary | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  // The assistant: the stored thread's, else the one this new chat was started with; fetched once the thread is.
  const resolved = useChatAssistant(apiKey, messages === null ? null : (threadAssistant?.id ?? assistantId))
  const assistant = resolved.state === 'ready' ? resolved.assistant : threadAssistant
  useEffect(() => {
    onAssistant?.(chatId, assistant)
  }, [chatId, assistant, onAssistant])

  useEffect(() => {
    if (fresh) return
    let live = true
    fetchThread(chatId, apiKey)
      .then((loaded) => {
        if (!live) return
        if (loaded.title) onTitle?.(chatId, loaded.title)
        setThreadModel(loaded.model)
        setThreadAssistant(loaded.assistant)
        setMessages(loaded.messages)
      })
      .catch((err: unknown) => live && setFailure(describeError(err)))
    return () => {
      live = false
    }
  }, [chatId, fresh, apiKey, onTitle])

  if (failure) {
    return (
      <p role="alert" className="p-6 text-sm text-danger">
        Could not load this chat: {failure}
      </p>
    )
  }
  if (resolved.state === 'unavailable' && !threadAssistant) {
    // A new chat with an assistant this user may not use: nothing to chat with.
    return (
      <p role="alert" className="p-6 text-sm text-danger" data-testid="assistant-unavailable">
        {resolved.message} <a href="/assistants" className="underline" onClick={onLinkClick}>See the assistants</a>
      </p>
    )
  }
  if (messages === null || resolved.state === 'loading')
    return (
      <div className="flex flex-1 items-center justify-center text-sm text-muted" role="status">
        Loading chat…
      </div>
    )
  return <Chat chatId={chatId} apiKey={apiKey} initialMessages={messages} tier={tier} models={models}
    threadModel={threadModel} onSent={onSent} onSettled={onSettled} assistant={assistant}
    assistantNotice={resolved.state === 'unavailable' ? `${resolved.message} This chat stays readable.` : null} />
}
