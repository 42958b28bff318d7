import type { UIMessage } from 'ai'
import { useEffect, useState } from 'react'
import { fetchThread } from '../lib/api'
import { describeError } from '../lib/http'
import type { Model } from '../lib/models'
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
}

/** Loads a thread's stored messages, then opens the chat on them (useChat reads them only once). */
export default function ChatLoader({ chatId, fresh, apiKey, tier, models, onSent, onSettled, onTitle }: Props) {
  const [messages, setMessages] = useState<UIMessage[] | null>(fresh ? [] : null)
  const [threadModel, setThreadModel] = useState<string | null>(null)
  const [failure, setFailure] = useState<string | null>(null)

  useEffect(() => {
    if (fresh) return
    let live = true
    fetchThread(chatId, apiKey)
      .then((loaded) => {
        if (!live) return
        if (loaded.title) onTitle?.(chatId, loaded.title)
        setThreadModel(loaded.model)
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
  if (messages === null)
    return (
      <div className="flex flex-1 items-center justify-center text-sm text-muted" role="status">
        Loading chat…
      </div>
    )
  return <Chat chatId={chatId} apiKey={apiKey} initialMessages={messages} tier={tier} models={models}
    threadModel={threadModel} onSent={onSent} onSettled={onSettled} />
}
