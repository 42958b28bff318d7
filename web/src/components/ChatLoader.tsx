import type { UIMessage } from 'ai'
import { useEffect, useState } from 'react'
import { fetchThreadMessages } from '../lib/api'
import Chat from './Chat'

type Props = { chatId: string; fresh: boolean; apiKey: string | null }

/** Loads a thread's stored messages, then opens the chat on them (useChat reads them only once). */
export default function ChatLoader({ chatId, fresh, apiKey }: Props) {
  const [messages, setMessages] = useState<UIMessage[] | null>(fresh ? [] : null)
  const [failure, setFailure] = useState<string | null>(null)

  useEffect(() => {
    if (fresh) return
    let live = true
    fetchThreadMessages(chatId, apiKey)
      .then((loaded) => live && setMessages(loaded))
      .catch((err: unknown) => live && setFailure(err instanceof Error ? err.message : String(err)))
    return () => {
      live = false
    }
  }, [chatId, fresh, apiKey])

  if (failure) {
    return (
      <p role="alert" className="p-6 text-sm text-red-700">
        Could not load this chat: {failure}
      </p>
    )
  }
  if (messages === null) return <p className="p-6 text-sm text-slate-500">Loading chat…</p>
  return <Chat chatId={chatId} apiKey={apiKey} initialMessages={messages} />
}
