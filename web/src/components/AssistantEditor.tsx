import { useEffect, useState, type FormEvent } from 'react'
import {
  checkAssistant,
  createAssistant,
  emptyAssistant,
  getAssistant,
  inputOf,
  LIMITS,
  listTools,
  myGroups,
  updateAssistant,
  type Assistant,
  type AssistantInput,
  type FieldErrors,
  type GroupRef,
  type ToolInfo,
} from '../lib/assistants'
import { describeError } from '../lib/http'
import type { Model } from '../lib/models'
import { onLinkClick } from '../lib/nav'
import { useApiKey } from '../lib/session'
import { AssistantAvatar } from './AssistantAvatar'
import { AssistantDocuments, StarterFields, ToolChoices, VisibilityChoice } from './AssistantFields'

type Props = {
  /** The assistant to edit; null makes a new one. */
  assistantId: string | null
  /** The models the user may choose (GET /api/models). */
  models: Model[]
  /** Saved: back to the gallery. */
  onSaved: (saved: Assistant) => void
}

type Loaded = { assistant: Assistant | null; tools: ToolInfo[]; groups: GroupRef[] }

/** Makes or edits an assistant of yours: every field of it, checked here first, then by the server. */
export default function AssistantEditor({ assistantId, models, onSaved }: Props) {
  const key = useApiKey()
  const [loaded, setLoaded] = useState<Loaded | null>(null)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [form, setForm] = useState<AssistantInput>(emptyAssistant)

  useEffect(() => {
    const aborted = new AbortController()
    const { signal } = aborted
    Promise.all([assistantId ? getAssistant(key, assistantId, signal) : Promise.resolve(null),
      listTools(key, signal), myGroups(key, signal)])
      .then(([assistant, tools, groups]) => {
        setLoaded({ assistant, tools, groups })
        if (assistant) setForm(inputOf(assistant))
      })
      .catch((err: unknown) => !signal.aborted && setLoadError(describeError(err)))
    return () => aborted.abort()
  }, [key, assistantId])

  const title = assistantId ? 'Edit assistant' : 'New assistant'
  return (
    <div className="page-scroll" data-testid="assistant-editor">
      <div className="page">
        <div className="page-head">
          <h2 className="page-title">{title}</h2>
          <a href="/assistants" className="btn-secondary" onClick={onLinkClick}>All assistants</a>
        </div>
        {loadError && <p role="alert" className="upload-error">Could not open the assistant: {loadError}</p>}
        {!loaded && !loadError && <p role="status" className="text-sm text-muted">Loading…</p>}
        {loaded && loaded.assistant && !loaded.assistant.mine && (
          <p role="alert" className="upload-error">Only its owner, {loaded.assistant.owner.name}, can change it.</p>
        )}
        {loaded && (!loaded.assistant || loaded.assistant.mine) && (
          <AssistantForm form={form} setForm={setForm} loaded={loaded} models={models} onSaved={onSaved} />
        )}
      </div>
    </div>
  )
}

type FormProps = {
  form: AssistantInput
  setForm: React.Dispatch<React.SetStateAction<AssistantInput>>
  loaded: Loaded
  models: Model[]
  onSaved: (saved: Assistant) => void
}

function AssistantForm({ form, setForm, loaded, models, onSaved }: FormProps) {
  const key = useApiKey()
  const [errors, setErrors] = useState<FieldErrors>({})
  const [saveError, setSaveError] = useState<string | null>(null)
  const [saving, setSaving] = useState(false)
  const existing = loaded.assistant
  const set = <K extends keyof AssistantInput>(field: K, value: AssistantInput[K]) =>
    setForm((f) => ({ ...f, [field]: value }))

  async function submit(event: FormEvent) {
    event.preventDefault()
    const found = checkAssistant(form)
    setErrors(found)
    setSaveError(null)
    const first = Object.keys(found)[0]
    if (first) {
      // The first field to fix gets the focus (its message is tied to it).
      document.querySelector<HTMLElement>(`[data-field="${first}"]`)?.focus()
      return
    }
    setSaving(true)
    try {
      onSaved(existing ? await updateAssistant(key, existing.id, form) : await createAssistant(key, form))
    } catch (err) {
      setSaveError(`Could not save: ${describeError(err)}`)
      setSaving(false)
    }
  }

  return (
    <form className="assistant-form" noValidate onSubmit={(e) => void submit(e)} aria-label="Assistant">
      <div className="field-row">
        <AssistantAvatar assistant={{ avatar: form.avatar.trim(), name: form.name, color: form.color }} size="lg" />
        <Field id="assistant-name" label="Name" error={errors.name} grow>
          <input id="assistant-name" data-field="name" value={form.name} maxLength={LIMITS.name} required autoFocus
            aria-invalid={!!errors.name} aria-describedby={describedBy('assistant-name', errors.name)}
            onChange={(e) => set('name', e.target.value)} />
        </Field>
        <Field id="assistant-avatar" label="Avatar" error={errors.avatar} hint="An emoji or 1–2 letters">
          <input id="assistant-avatar" data-field="avatar" value={form.avatar} maxLength={16} size={6}
            aria-invalid={!!errors.avatar} aria-describedby={describedBy('assistant-avatar', errors.avatar, true)}
            onChange={(e) => set('avatar', e.target.value)} />
        </Field>
        <Field id="assistant-color" label="Colour" error={errors.color}>
          <input id="assistant-color" data-field="color" type="color" value={form.color}
            aria-describedby={describedBy('assistant-color', errors.color)}
            onChange={(e) => set('color', e.target.value)} />
        </Field>
      </div>
      <Field id="assistant-description" label="Description" error={errors.description}
        hint="Shown on its card and when a chat with it starts">
        <textarea id="assistant-description" data-field="description" rows={2} value={form.description}
          maxLength={LIMITS.description} aria-describedby={describedBy('assistant-description', errors.description, true)}
          onChange={(e) => set('description', e.target.value)} />
      </Field>
      <Field id="assistant-instructions" label="Instructions" error={errors.instructions}
        hint="What it should do and how: given to the model in every chat with it (only you see them)">
        <textarea id="assistant-instructions" data-field="instructions" rows={6} value={form.instructions}
          maxLength={LIMITS.instructions}
          aria-describedby={describedBy('assistant-instructions', errors.instructions, true)}
          onChange={(e) => set('instructions', e.target.value)} />
      </Field>
      <Field id="assistant-model" label="Model" hint="Tried first in its chats, unless the person chatting picks another">
        <select id="assistant-model" value={form.model ?? ''} aria-describedby="assistant-model-hint"
          onChange={(e) => set('model', e.target.value || null)}>
          <option value="">The default model</option>
          {models.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
          {form.model && !models.some((m) => m.id === form.model) && <option value={form.model}>{form.model}</option>}
        </select>
      </Field>
      <StarterFields starters={form.starters} error={errors.starters} onChange={(s) => set('starters', s)} />
      <ToolChoices tools={loaded.tools} offered={form.tools} approval={form.approval_tools}
        onChange={(tools, approval) => setForm((f) => ({ ...f, tools, approval_tools: approval }))} />
      <VisibilityChoice visibility={form.visibility} groups={form.groups} myGroups={loaded.groups}
        known={existing?.groups ?? []} error={errors.groups}
        onChange={(visibility, groups) => setForm((f) => ({ ...f, visibility, groups }))} />
      {existing ? <AssistantDocuments assistant={existing} />
        : <p className="field-hint">Save it to add documents it can search.</p>}
      {saveError && <p role="alert" className="upload-error" data-testid="save-error">{saveError}</p>}
      <div className="form-actions">
        <button type="submit" className="btn-primary" data-testid="save-assistant" disabled={saving}>
          {saving ? 'Saving…' : existing ? 'Save changes' : 'Create assistant'}
        </button>
        <a href="/assistants" className="btn-secondary" onClick={onLinkClick}>Cancel</a>
      </div>
    </form>
  )
}

/** The ids of a field's hint and error, for aria-describedby (undefined when it has neither). */
export function describedBy(id: string, error?: string, hint = false): string | undefined {
  return [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined
}

type FieldProps = { id: string; label: string; error?: string; hint?: string; grow?: boolean; children: React.ReactNode }

/** A label, the control, its hint and its error (tied to it with aria-describedby by the caller). */
export function Field({ id, label, error, hint, grow, children }: FieldProps) {
  return (
    <div className={grow ? 'field grow' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <span id={`${id}-hint`} className="field-hint">{hint}</span>}
      {error && <span id={`${id}-error`} className="field-error" role="alert">{error}</span>}
    </div>
  )
}
