import { useRef, useState } from 'react'
import {
  getAssistant,
  LIMITS,
  uploadAssistantDocument,
  type Assistant,
  type GroupRef,
  type ToolInfo,
  type Visibility,
} from '../lib/assistants'
import { ACCEPT } from '../lib/documents'
import { describeError } from '../lib/http'
import { useApiKey } from '../lib/session'

// The editor's larger parts: starters, tools (offered, and which ask first), who may use it, its documents.

export function StarterFields({ starters, error, onChange }: { starters: string[]; error?: string;
  onChange: (starters: string[]) => void }) {
  const slots = Array.from({ length: LIMITS.starters }, (_, i) => starters[i] ?? '')
  return (
    <fieldset aria-describedby={['starters-hint', error && 'starters-error'].filter(Boolean).join(' ')}>
      <legend>Conversation starters</legend>
      <span id="starters-hint" className="field-hint">Up to four prompts offered as buttons when a chat starts</span>
      {slots.map((value, i) => (
        <input key={i} className="field-input" aria-label={`Starter ${i + 1}`} data-field={i ? undefined : 'starters'}
          value={value} maxLength={LIMITS.starter}
          onChange={(e) => onChange(slots.map((s, j) => (j === i ? e.target.value : s)))} />
      ))}
      {error && <span id="starters-error" className="field-error" role="alert">{error}</span>}
    </fieldset>
  )
}

type ToolProps = {
  tools: ToolInfo[]
  /** null: every tool the server offers (ones added later too). */
  offered: string[] | null
  approval: string[]
  onChange: (offered: string[] | null, approval: string[]) => void
}

const KINDS: Record<ToolInfo['kind'], string> = { builtin: 'built in', http: 'web service', mcp: 'MCP server' }

export function ToolChoices({ tools, offered, approval, onChange }: ToolProps) {
  if (tools.length === 0) {
    return (
      <fieldset>
        <legend>Tools</legend>
        <span className="field-hint">This server offers no tools.</span>
      </fieldset>
    )
  }
  const isOffered = (name: string) => offered === null || offered.includes(name)
  const toggle = (name: string, on: boolean) => {
    const next = tools.map((t) => t.name).filter((n) => (n === name ? on : isOffered(n)))
    // All of them is "every tool", so one added to the server later is offered too.
    onChange(next.length === tools.length ? null : next, approval.filter((a) => next.includes(a)))
  }
  const toggleApproval = (name: string, on: boolean) =>
    onChange(offered, on ? [...approval.filter((a) => a !== name), name] : approval.filter((a) => a !== name))
  return (
    <fieldset aria-describedby="tools-hint">
      <legend>Tools</legend>
      <span id="tools-hint" className="field-hint">
        The tools it may use (all ticked: every tool, ones added later too), and which ask you before each use
      </span>
      <ul className="tool-choices" aria-label="Tools">
        {tools.map((t) => (
          <li key={t.name}>
            <label className="choice">
              <input type="checkbox" checked={isOffered(t.name)} onChange={(e) => toggle(t.name, e.target.checked)} />
              <span>
                <span className="font-medium">{t.name}</span> <span className="choice-detail clamp-2"
                  title={t.description || undefined}>{t.description || KINDS[t.kind]}</span>
              </span>
            </label>
            {isOffered(t.name) && (
              <label className="choice ml-6">
                <input type="checkbox" checked={approval.includes(t.name)}
                  onChange={(e) => toggleApproval(t.name, e.target.checked)} />
                <span className="choice-detail">Ask before using {t.name}</span>
              </label>
            )}
          </li>
        ))}
      </ul>
    </fieldset>
  )
}

type VisibilityProps = {
  visibility: Visibility
  groups: string[]
  myGroups: GroupRef[]
  /** The groups it is shared with now (one the owner has left still shows, to be unticked). */
  known: GroupRef[]
  error?: string
  onChange: (visibility: Visibility, groups: string[]) => void
}

const WHO: { value: Visibility; label: string; detail: string }[] = [
  { value: 'private', label: 'Only me', detail: 'No one else sees it' },
  { value: 'groups', label: 'My groups', detail: 'Members of the groups you choose can chat with it' },
  { value: 'public', label: 'Everyone', detail: 'Everyone on this server can chat with it' },
]

export function VisibilityChoice({ visibility, groups, myGroups, known, error, onChange }: VisibilityProps) {
  const choices = [...myGroups, ...known.filter((k) => !myGroups.some((g) => g.id === k.id))]
  const groupList = <GroupList choices={choices} groups={groups} onChange={(next) => onChange(visibility, next)} />
  return (
    <fieldset aria-describedby={error ? 'groups-error' : undefined}>
      <legend>Who can use it</legend>
      {WHO.map((w) => (
        <div key={w.value}>
          <label className="choice">
            <input type="radio" name="visibility" value={w.value} checked={visibility === w.value}
              onChange={() => onChange(w.value, groups)} />
            <span>{w.label} <span className="choice-detail">{w.detail}</span></span>
          </label>
          {w.value === 'groups' && visibility === 'groups' && groupList}
        </div>
      ))}
      {error && <span id="groups-error" className="field-error" role="alert">{error}</span>}
    </fieldset>
  )
}

/** The groups to share with, ticked (under "My groups"). */
function GroupList({ choices, groups, onChange }: { choices: GroupRef[]; groups: string[];
  onChange: (groups: string[]) => void }) {
  if (choices.length === 0)
    return <span className="field-hint ml-6">You are in no group yet: an administrator adds people to groups.</span>
  return (
    <ul className="ml-6" aria-label="Groups">
      {choices.map((g, i) => (
        <li key={g.id}>
          <label className="choice">
            <input type="checkbox" data-field={i ? undefined : 'groups'} checked={groups.includes(g.id)}
              onChange={(e) => onChange(e.target.checked ? [...groups, g.id] : groups.filter((id) => id !== g.id))} />
            <span>{g.name}</span>
          </label>
        </li>
      ))}
    </ul>
  )
}

/** The documents the assistant searches in its chats: listed, and uploaded straight into it. */
export function AssistantDocuments({ assistant }: { assistant: Assistant }) {
  const key = useApiKey()
  const [documents, setDocuments] = useState(assistant.documents)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const picker = useRef<HTMLInputElement>(null)

  async function upload(files: File[]) {
    setBusy(true)
    setError(null)
    for (const file of files) {
      try {
        const doc = await uploadAssistantDocument(key, assistant.id, file)
        setDocuments((all) => [...all.filter((d) => d.id !== doc.id), doc])
      } catch (err) {
        setError(`Could not upload “${file.name}”: ${describeError(err)}`)
      }
    }
    // Their processing goes on: the server's word on each one's status.
    setDocuments((await getAssistant(key, assistant.id).catch(() => null))?.documents ?? documents)
    setBusy(false)
  }

  return (
    <fieldset aria-describedby="documents-hint">
      <legend>Knowledge</legend>
      <span id="documents-hint" className="field-hint">
        Documents it searches when asked, in everyone’s chats with it (they are not in your own searches)
      </span>
      {documents.length > 0 && (
        <ul className="doc-list" data-testid="assistant-documents">
          {documents.map((d) => (
            <li key={d.id} className="text-sm">{d.filename} <span className="choice-detail inline">({d.status})</span></li>
          ))}
        </ul>
      )}
      <input ref={picker} type="file" multiple accept={ACCEPT} hidden data-testid="assistant-file-input"
        onChange={(e) => {
          const files = Array.from(e.target.files ?? [])
          e.target.value = ''
          if (files.length) void upload(files)
        }} />
      <div>
        <button type="button" className="btn-secondary" disabled={busy} onClick={() => picker.current?.click()}>
          {busy ? 'Uploading…' : 'Add documents'}
        </button>
      </div>
      {error && <p role="alert" className="upload-error">{error}</p>}
    </fieldset>
  )
}
