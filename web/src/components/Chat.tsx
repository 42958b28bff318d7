import { useChat } from '@ai-sdk/react'
import {
  lastAssistantMessageIsCompleteWithApprovalResponses,
  type FileUIPart,
  type UIMessage,
} from 'ai'
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { fetchThreadMessages, stopChat } from '../lib/api'
import { ApprovalContext, openApprovals } from '../lib/approval'
import type { ChatAssistant } from '../lib/assistants'
import { filesOf } from '../lib/attachments'
import { chatTransport } from '../lib/chatTransport'
import { documentMessage, uploadDocument } from '../lib/documents'
import { classifyChatError, type HttpFailure } from '../lib/errors'
import { chosenModel, type Model } from '../lib/models'
import { useOnline } from '../lib/online'
import { markStopped, unanswered } from '../lib/unanswered'
import { switchVersion } from '../lib/versions'
import { AssistantWelcome } from './AssistantWelcome'
import { Composer, type ComposerHandle } from './Composer'
import { ErrorNotice } from './ErrorNotice'
import { messageText } from './Message'
import { MessageList } from './MessageList'
import { ModelPicker } from './ModelPicker'
import { RetryNotice } from './RetryNotice'

type Props = {
  /** The chat (thread) id; the server keys history on it. */
  chatId: string
  apiKey: string | null
  initialMessages: UIMessage[]
  tier: string | null
  /** The models the user may choose (none: the picker is hidden and the server picks). */
  models?: Model[]
  /** The model stored with the thread (null: the default). */
  threadModel?: string | null
  /** A turn was sent (the thread is new or moves to the top of the list). */
  onSent?: (chatId: string, text: string) => void
  /** A turn ended (its title and order may have changed on the server). */
  onSettled?: (chatId: string) => void
  /** The assistant the chat is with: sent with every message (the server keeps the thread's first). */
  assistant?: ChatAssistant | null
  /** Why the assistant cannot go on (no longer shared with this user, say). */
  assistantNotice?: string | null
}

function lastUserText(messages: UIMessage[]): string | null {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].role === 'user') return messageText(messages[i])
  return null
}

/** Whether a drag carries files (not text or a link dragged within the page). */
function draggingFiles(event: React.DragEvent): boolean {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files')
}

export default function Chat({ chatId, apiKey, initialMessages, tier, models = [], threadModel = null, onSent,
  onSettled, assistant = null, assistantNotice = null }: Props) {
  // useChat keeps only a failed answer's body; the 429's Retry-After and RateLimit headers are read here.
  const lastFailure = useRef<HttpFailure | null>(null)
  // The model: picked here, else the thread's, else the default; sent with every message (the server
  // keeps it with the thread, so a reload shows it again).
  const [picked, setPicked] = useState<string | null>(null)
  // With an assistant, its model comes first unless one is picked here: only a picked one is sent.
  const model = chosenModel(models, picked ?? threadModel ?? assistant?.model)
  const modelId = useRef<string | null>(null)
  const assistantId = useRef<string | null>(null)
  useEffect(() => {
    modelId.current = assistant && !picked ? null : (model?.id ?? null)
    assistantId.current = assistant?.id ?? null
  }, [model, assistant, picked])
  const transport = useMemo(
    () => chatTransport(apiKey, () => ({ ...(modelId.current ? { model: modelId.current } : {}),
      ...(assistantId.current ? { assistant: assistantId.current } : {}) }), (failure) => {
      lastFailure.current = failure
    }),
    [apiKey],
  )
  // A regenerated answer or an edit adds a version: once its turn settles, the thread is read again for the
  // versions ("2/2") the stream does not carry. `turns` counts sends: a reload older than a new turn is dropped.
  const reloadVersions = useRef(false)
  const turns = useRef(0)
  const { messages, sendMessage, status, stop, error, regenerate, clearError, setMessages, resumeStream,
    addToolApprovalResponse } = useChat({
    id: chatId,
    transport,
    messages: initialMessages,
    experimental_throttle: 40,
    // a tool that waits for the user's approval: their answer goes back as soon as every call is answered
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
    onFinish: ({ isAbort }) => {
      // Stop ends the stream here before the server's word on it: show the answer as the server stores it.
      if (isAbort) setMessages(markStopped)
      if (reloadVersions.current && !isAbort) {
        reloadVersions.current = false
        const turn = turns.current
        void fetchThreadMessages(chatId, apiKey).then((stored) => {
          if (turns.current === turn) setMessages(stored)
        }).catch(() => undefined) // the versions show on the next load instead
      }
      onSettled?.(chatId)
    },
  })
  // An answer still being generated (say, after a reload) is replayed and followed live. Resumed by hand,
  // not with `resume: true`, to know when the server has answered: until then, a question without its
  // answer may be one still being answered rather than one to retry.
  const [resumeChecked, setResumeChecked] = useState(false)
  // A message sent while the check is out waits for it: the SDK's answer to the check (204, nothing under
  // way) would otherwise end the new message's request too, leaving it unanswered.
  const resumed = useRef<Promise<void>>(Promise.resolve())
  useEffect(() => {
    resumed.current = resumeStream().catch(() => undefined).finally(() => setResumeChecked(true))
  }, [resumeStream])
  // the tool cards' Approve and Deny; keyed on the open approvals' ids, not on each streamed token
  const openKey = [...openApprovals(messages)].join(' ')
  const approvals = useMemo(
    () => ({ respond: addToolApprovalResponse, open: new Set(openKey.split(' ').filter(Boolean)) }),
    [addToolApprovalResponse, openKey],
  )
  const messagesRef = useRef(messages)
  useEffect(() => {
    messagesRef.current = messages
  }, [messages])
  const [followKey, setFollowKey] = useState(0)
  const [reconnecting, setReconnecting] = useState(false)
  const inputRef = useRef<ComposerHandle>(null)
  const online = useOnline()

  const busy = status === 'submitted' || status === 'streaming'
  const failure = useMemo(() => (error ? classifyChatError(error, lastFailure.current) : null), [error])
  const lostConnection = !online || failure?.kind === 'network'

  const send = useCallback(
    (text: string, files: FileUIPart[] = []) => {
      setFollowKey((k) => k + 1)
      turns.current += 1
      onSent?.(chatId, text || files[0]?.filename || 'Image')
      void resumed.current.then(() => sendMessage(files.length ? { text, files } : { text }))
    },
    [chatId, onSent, sendMessage],
  )

  const doStop = useCallback(() => {
    // Leaving the stream is not stopping (it would run on, for a later resume): ask the server.
    void stopChat(chatId, apiKey)
    void stop()
    inputRef.current?.focus()
  }, [apiKey, chatId, stop])

  const doRegenerate = useCallback(() => {
    setFollowKey((k) => k + 1)
    turns.current += 1
    reloadVersions.current = true
    onSent?.(chatId, '')
    void regenerate()
  }, [chatId, onSent, regenerate])

  // "‹ 2/3 ›": the server switches the thread to that version's branch and sends it back.
  const [versionError, setVersionError] = useState<string | null>(null)
  const doVersion = useCallback(
    (messageId: string) => {
      setVersionError(null)
      turns.current += 1
      void switchVersion(chatId, apiKey, messageId).then((shown) => {
        setMessages(shown)
        onSettled?.(chatId) // a branch with another first message may bring its title back
      }).catch((err: unknown) => {
        setVersionError(`Could not show that version: ${err instanceof Error ? err.message : String(err)}`)
      })
    },
    [apiKey, chatId, onSettled, setMessages],
  )

  const doEdit = useCallback(
    (messageId: string, text: string, newVersion = true) => {
      setFollowKey((k) => k + 1)
      turns.current += 1
      reloadVersions.current = newVersion
      onSent?.(chatId, text)
      // Same message id + `messageId` in the body: the server adds a new version of that message, a branch
      // (the old one is kept). Its images go again (stored ones by their URL: the server keeps them).
      const original = messagesRef.current.find((m) => m.id === messageId)
      void sendMessage({ text, files: original ? filesOf(original.parts) : [], messageId })
    },
    [chatId, onSent, sendMessage],
  )

  // Retry after a failure: what to resend depends on whether the server stored the turn.
  const retry = useCallback(() => {
    if (!failure) return
    const last = messages[messages.length - 1]
    setFollowKey((k) => k + 1)
    if (failure.kind === 'provider') {
      // The stream started: the question (and a failed answer) are stored; make a new answer.
      void regenerate()
    } else if (last?.role === 'user') {
      // Refused before any work (429, 503…): nothing was stored; send the same message again.
      void sendMessage({ text: messageText(last), files: filesOf(last.parts), messageId: last.id })
    } else {
      clearError()
    }
  }, [clearError, failure, messages, regenerate, sendMessage])

  // A lost connection: once the browser is back online, pick the answer up where the server has it.
  const attempts = useRef(0)
  const resync = useCallback(async () => {
    setReconnecting(true)
    attempts.current += 1
    try {
      const stored = await fetchThreadMessages(chatId, apiKey)
      const unsent = lastUserText(messagesRef.current)
      // The server's copy wins (the answer may have finished meanwhile); a still running answer is
      // left out of it and comes back through the resumed stream, replayed from its start.
      setMessages(stored)
      clearError()
      attempts.current = 0
      if (unsent != null && unsent !== lastUserText(stored)) {
        // The question never reached the server (it was down, or the line dropped as it was sent).
        await sendMessage({ text: unsent })
      } else {
        await resumeStream()
      }
    } catch {
      // the server is still out of reach: the banner stays, and the effect below tries again
    } finally {
      setReconnecting(false)
    }
  }, [apiKey, chatId, clearError, resumeStream, sendMessage, setMessages])

  // Back online (or the server reachable again): resync, backing off while it keeps failing.
  useEffect(() => {
    if (online && failure?.kind === 'network' && !reconnecting) {
      const delay = Math.min(300 * 2 ** attempts.current, 10_000)
      const timer = window.setTimeout(() => void resync(), delay)
      return () => window.clearTimeout(timer)
    }
  }, [online, failure, reconnecting, resync])

  // Documents: uploaded into this thread, shown as a message whose card follows the processing.
  const [uploading, setUploading] = useState<string[]>([])
  const [uploadError, setUploadError] = useState<string | null>(null)
  const [dragDepth, setDragDepth] = useState(0)
  const attachBlocked = busy ? 'Wait for the answer to finish to attach a document' : null
  const upload = useCallback(
    async (files: File[]) => {
      if (busy) {
        setUploadError('Wait for the answer to finish to attach a document.')
        return
      }
      setUploadError(null)
      for (const file of files) {
        setUploading((names) => [...names, file.name])
        try {
          const doc = await uploadDocument(apiKey, file, chatId)
          const shown = documentMessage(doc)
          setMessages((current) => (current.some((m) => m.id === shown.id) ? current : [...current, shown]))
          setFollowKey((k) => k + 1)
          onSent?.(chatId, file.name)
        } catch (err) {
          setUploadError(`Could not upload “${file.name}”: ${err instanceof Error ? err.message : String(err)}`)
        } finally {
          setUploading((names) => names.filter((n, i) => n !== file.name || i !== names.indexOf(file.name)))
        }
      }
      onSettled?.(chatId)
    },
    [apiKey, busy, chatId, onSent, onSettled, setMessages],
  )
  const dropZone = {
    onDragEnter: (e: React.DragEvent) => {
      if (!draggingFiles(e)) return
      e.preventDefault()
      setDragDepth((d) => d + 1)
    },
    onDragOver: (e: React.DragEvent) => {
      if (!draggingFiles(e)) return
      e.preventDefault()
      e.dataTransfer.dropEffect = busy ? 'none' : 'copy'
    },
    onDragLeave: (e: React.DragEvent) => {
      if (draggingFiles(e)) setDragDepth((d) => Math.max(0, d - 1))
    },
    onDrop: (e: React.DragEvent) => {
      if (!draggingFiles(e)) return
      e.preventDefault()
      setDragDepth(0)
      const files = Array.from(e.dataTransfer.files)
      // images go with the next message (the composer shows them), documents are uploaded
      if (files.length) inputRef.current?.attach(files)
    },
  }

  // Esc stops the answer, from anywhere on the page.
  useEffect(() => {
    if (!busy) return
    const onKey = (e: KeyboardEvent) => {
      // (not when Esc is closing something else: a dialog, the phone's chat list)
      if (e.key === 'Escape' && !e.defaultPrevented && !document.querySelector('dialog[open], [aria-modal="true"]')) {
        e.preventDefault()
        doStop()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [busy, doStop])

  const last = messages[messages.length - 1]
  const waitingForFirstToken = status === 'submitted' && last?.role === 'user'
  const ending = !busy && !failure && resumeChecked ? unanswered(messages) : null

  const footer = (
    <>
      {waitingForFirstToken && (
        <div className="thinking pb-4" role="status">
          Thinking…
        </div>
      )}
      {failure && failure.kind !== 'network' && (
        <ErrorNotice failure={failure} tier={tier} onRetry={retry} onDismiss={clearError} />
      )}
      {ending && (
        // Asked again by its id: the server replaces the question (and an empty answer) if it holds it,
        // and takes it as new if it never did (a refusal dismissed, a stop before the request got there).
        // The same text: no new version of the question (an empty answer is replaced in place).
        <RetryNotice stopped={ending.stopped}
          onRetry={() => doEdit(ending.question.id, messageText(ending.question), false)} />
      )}
    </>
  )

  return (
    <div className="relative flex min-h-0 flex-1 flex-col" data-testid="chat-drop-zone" {...dropZone}>
      {dragDepth > 0 && (
        <div className="drop-overlay" aria-hidden="true">
          {busy ? 'Wait for the answer to finish to attach a document' : 'Drop to add to this chat'}
        </div>
      )}
      {lostConnection && (
        <div role="status" data-testid="connection-banner" className="banner-warn">
          {online
            ? reconnecting
              ? 'Reconnecting… the answer will continue.'
              : 'The connection dropped. Reconnecting…'
            : 'You are offline. The answer keeps going on the server and will continue here when you are back.'}
        </div>
      )}
      {assistantNotice && <div role="status" className="banner-warn" data-testid="assistant-notice">{assistantNotice}</div>}
      {messages.length === 0 && !busy ? (
        <div className="flex min-h-0 flex-1 flex-col items-center justify-center px-6 text-center">
          {assistant ? <AssistantWelcome assistant={assistant} onStarter={(text) => send(text)} disabled={!online} /> : (
            <>
              <h2 className="text-2xl font-semibold text-fg">How can I help?</h2>
              <p className="mt-2 text-sm text-muted">
                Enter sends, Shift+Enter adds a line. Markdown, code and math are rendered. Paste or drop an image or a
                document here, or use the paperclip, to ask about it.
              </p>
            </>
          )}
          {failure && failure.kind !== 'network' && (
            <div className="mt-4 w-full max-w-xl text-left">
              <ErrorNotice failure={failure} tier={tier} onRetry={retry} onDismiss={clearError} />
            </div>
          )}
        </div>
      ) : (
        <ApprovalContext.Provider value={approvals}>
          <MessageList
            messages={messages}
            busy={busy}
            onRegenerate={doRegenerate}
            onEdit={doEdit}
            onVersion={doVersion}
            footer={footer}
            followKey={followKey}
          />
        </ApprovalContext.Provider>
      )}
      {versionError && (
        <p role="alert" className="upload-error" data-testid="version-error">
          {versionError}
          <button type="button" className="link-button ml-2" onClick={() => setVersionError(null)}>Dismiss</button>
        </p>
      )}
      {(uploading.length > 0 || uploadError) && (
        <div className="upload-status">
          {uploading.length > 0 && (
            <p role="status" data-testid="uploading">Uploading {uploading.join(', ')}…</p>
          )}
          {uploadError && (
            <p role="alert" className="upload-error" data-testid="upload-error">
              {uploadError}
              <button type="button" className="link-button ml-2" onClick={() => setUploadError(null)}>Dismiss</button>
            </p>
          )}
        </div>
      )}
      {model && <ModelPicker models={models} selected={model} onSelect={(m) => setPicked(m.id)} disabled={busy} />}
      <Composer ref={inputRef} busy={busy} onSend={send} onStop={doStop} disabled={!online}
        onAttach={(files) => void upload(files)} attachBlocked={attachBlocked} imagesAllowed={model?.capabilities.vision} />
    </div>
  )
}
