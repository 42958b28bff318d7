import { useVirtualizer } from '@tanstack/react-virtual'
import type { UIMessage } from 'ai'
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react'
import { Message } from './Message'

type Props = {
  messages: UIMessage[]
  busy: boolean
  /** Regenerates the last answer (shown on it when nothing runs). */
  onRegenerate: () => void
  /** Edits and resends the last user message (shown on it when nothing runs). */
  onEdit: (messageId: string, text: string) => void
  /** Switches to another version of a message (its branch), when nothing runs. */
  onVersion?: (messageId: string) => void
  /** Shown under the last message: the "Thinking…" row, an error with its retry button. */
  footer?: ReactNode
  /** Changes when the user sends: the list jumps back to the bottom and follows again. */
  followKey: number
}

/** How close to the bottom (px) still counts as "at the bottom" for following the stream. */
const STICKY_PX = 48

/**
 * The conversation, virtualised (only what is near the viewport is in the DOM, so a 500-message thread
 * scrolls smoothly), following the newest text while the user is at the bottom and staying put once
 * they scroll up.
 */
export function MessageList({ messages, busy, onRegenerate, onEdit, onVersion, footer, followKey }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null)
  const [following, setFollowing] = useState(true)
  const followingRef = useRef(true)
  const lastTop = useRef(0)

  const count = messages.length
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 96,
    overscan: 8,
    getItemKey: (index) => messages[index]?.id ?? index,
    // jsdom (unit tests) has no layout: pretend a viewport so rows render.
    initialRect: { width: 800, height: 800 },
  })

  const setFollow = useCallback((value: boolean) => {
    followingRef.current = value
    setFollowing(value)
  }, [])

  const toBottom = useCallback(() => {
    const el = scrollRef.current
    if (el) el.scrollTop = el.scrollHeight
  }, [])

  // Scrolling up leaves follow mode; coming back to the bottom re-enters it. Growth of the content
  // never moves scrollTop down by itself, so it cannot be mistaken for the user.
  const onScroll = useCallback(() => {
    const el = scrollRef.current
    if (!el) return
    const distance = el.scrollHeight - el.scrollTop - el.clientHeight
    const movedUp = el.scrollTop < lastTop.current - 2
    lastTop.current = el.scrollTop
    if (distance <= STICKY_PX) {
      if (!followingRef.current) setFollow(true)
    } else if (movedUp && followingRef.current) {
      setFollow(false)
    }
  }, [setFollow])

  // A new turn (the user sent): follow again.
  useEffect(() => {
    setFollow(true)
  }, [followKey, setFollow])

  const totalSize = virtualizer.getTotalSize()
  const lastMessage = messages[count - 1]
  const lastLength = lastMessage ? JSON.stringify(lastMessage.parts).length : 0
  useLayoutEffect(() => {
    if (followingRef.current) toBottom()
  }, [totalSize, count, lastLength, following, footer, toBottom])

  // Rows grow after measuring (fonts, lazily loaded highlighting): keep the bottom in view meanwhile.
  useEffect(() => {
    const el = scrollRef.current
    const inner = el?.firstElementChild
    if (!el || !inner || typeof ResizeObserver === 'undefined') return
    const observer = new ResizeObserver(() => {
      if (followingRef.current) toBottom()
    })
    observer.observe(inner)
    return () => observer.disconnect()
  }, [toBottom])

  const items = virtualizer.getVirtualItems()
  const lastUserIndex = findLastIndex(messages, (m) => m.role === 'user')
  return (
    <div className="relative min-h-0 flex-1">
      <div
        ref={scrollRef}
        onScroll={onScroll}
        data-testid="message-list"
        className="message-scroll h-full overflow-y-auto"
        role="log"
        aria-label="Conversation"
        tabIndex={0}
      >
        <div className="mx-auto w-full max-w-3xl px-3 pt-4 pb-2 sm:px-6">
          <div style={{ height: totalSize, position: 'relative', width: '100%' }}>
            <div style={{ position: 'absolute', top: 0, left: 0, width: '100%', transform: `translateY(${items[0]?.start ?? 0}px)` }}>
              {items.map((row) => {
                const message = messages[row.index]
                const isLast = row.index === count - 1
                const streaming = busy && isLast && message.role === 'assistant'
                const status = (message.metadata as { status?: string } | undefined)?.status
                return (
                  <div key={row.key} data-index={row.index} ref={virtualizer.measureElement} className="pb-4">
                    <Message
                      message={message}
                      streaming={streaming}
                      status={status}
                      onRegenerate={!busy && isLast && message.role === 'assistant' ? onRegenerate : undefined}
                      onEdit={
                        !busy && row.index === lastUserIndex ? (text: string) => onEdit(message.id, text) : undefined
                      }
                      onVersion={busy ? undefined : onVersion}
                    />
                  </div>
                )
              })}
            </div>
          </div>
          {footer}
        </div>
      </div>
      {!following && (
        <button
          type="button"
          data-testid="jump-to-latest"
          className="jump-button"
          onClick={() => {
            setFollow(true)
            virtualizer.scrollToIndex(count - 1, { align: 'end' })
            requestAnimationFrame(toBottom)
          }}
        >
          ↓ Jump to latest
        </button>
      )}
    </div>
  )
}

function findLastIndex<T>(items: T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i])) return i
  return -1
}
