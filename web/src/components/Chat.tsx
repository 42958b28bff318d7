import { useChat } from '@ai-sdk/react'
import { DefaultChatTransport, type UIMessage } from 'ai'
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { authHeaders, errorMessage, stopChat } from '../lib/api'
import { ToolCard } from './ToolCard'

type Props = {
  /** The chat (thread) id; the server keys history on it. */
  chatId: string
  apiKey: string | null
  initialMessages: UIMessage[]
}

function MessageParts({ message }: { message: UIMessage }) {
  return (
    <>
      {message.parts.map((part, index) =>
        part.type === 'text' ? (
          <span key={index}>{part.text}</span>
        ) : (
          <ToolCard key={index} part={part} />
        ),
      )}
    </>
  )
}

export default function Chat({ chatId, apiKey, initialMessages }: Props) {
  const transport = useMemo(
    () =>
      new DefaultChatTransport({
        api: '/api/chat',
        // A function, so every request reads the current key.
        headers: () => authHeaders(apiKey),
      }),
    [apiKey],
  )
  // resume: an answer still being generated (say, after a reload) is replayed and followed live.
  const { messages, sendMessage, status, stop, error } = useChat({
    id: chatId,
    transport,
    messages: initialMessages,
    resume: true,
  })
  const [input, setInput] = useState('')
  const listRef = useRef<HTMLOListElement>(null)
  const inputRef = useRef<HTMLTextAreaElement>(null)

  const busy = status === 'submitted' || status === 'streaming'

  useEffect(() => {
    const list = listRef.current
    if (list) list.scrollTop = list.scrollHeight
  }, [messages, status])

  function send() {
    const text = input.trim()
    if (!text || busy) return
    setInput('')
    void sendMessage({ text })
  }

  function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    send()
  }

  function handleKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      send()
    }
  }

  const last = messages[messages.length - 1]
  const waitingForFirstToken = status === 'submitted' && last?.role === 'user'

  return (
    <div className="flex min-h-0 flex-1 flex-col">
      <ol ref={listRef} className="flex-1 space-y-3 overflow-y-auto p-4">
        {messages.map((message) => {
          const streaming = busy && message.id === last?.id && message.role === 'assistant'
          return (
            <li
              key={message.id}
              className={message.role === 'user' ? 'flex justify-end' : 'flex justify-start'}
            >
              <div
                data-testid={`message-${message.role}`}
                aria-live={message.role === 'assistant' ? 'polite' : undefined}
                aria-busy={streaming || undefined}
                className={
                  'max-w-[80ch] rounded-lg px-3 py-2 text-sm whitespace-pre-wrap break-words ' +
                  (message.role === 'user'
                    ? 'bg-indigo-600 text-white'
                    : 'border border-slate-200 bg-white text-slate-900')
                }
              >
                <MessageParts message={message} />
              </div>
            </li>
          )
        })}
        {waitingForFirstToken && (
          <li className="text-sm text-slate-500" aria-live="polite">
            Thinking…
          </li>
        )}
      </ol>

      {error && (
        <div
          role="alert"
          data-testid="chat-error"
          className="mx-4 mb-2 rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800"
        >
          {errorMessage(error.message) || 'Something went wrong.'}
        </div>
      )}

      <form onSubmit={handleSubmit} className="flex items-end gap-2 border-t border-slate-200 bg-white p-3">
        <label htmlFor="message-input" className="sr-only">
          Message
        </label>
        <textarea
          ref={inputRef}
          id="message-input"
          data-testid="message-input"
          rows={2}
          autoFocus
          placeholder="Send a message (Enter to send, Shift+Enter for a new line)"
          value={input}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={handleKeyDown}
          className="block flex-1 resize-none rounded-md border border-slate-300 px-3 py-2 text-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
        />
        {busy ? (
          <button
            type="button"
            data-testid="stop-button"
            onClick={() => {
              // Leaving the stream is not stopping (it would run on, for a later resume): ask the server.
              void stopChat(chatId, apiKey)
              void stop()
              inputRef.current?.focus()
            }}
            className="rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-800 hover:bg-slate-100"
          >
            Stop
          </button>
        ) : (
          <button
            type="submit"
            data-testid="send-button"
            disabled={!input.trim()}
            className="rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50"
          >
            Send
          </button>
        )}
      </form>
    </div>
  )
}
