import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Assistant } from '../lib/assistants'
import type { Model } from '../lib/models'
import { assistant } from '../test/assistants'
import { jsonResponse } from '../test/responses'
import AssistantEditor from './AssistantEditor'

const MODELS: Model[] = [
  { id: 'fast', label: 'Fast', kind: 'openai', model: 'm', default: true, context_window: null, price: null,
    capabilities: { vision: false, tools: true, reasoning: false } },
]
const TOOLS = [
  { name: 'calculator', description: 'Does sums', kind: 'builtin' },
  { name: 'web_search', description: 'Searches the web', kind: 'http' },
]

/** The editor's routes over one stored assistant (or none); returns the bodies saved. */
function server(stored: Assistant | null = null) {
  const saved: { method: string; url: string; body: Record<string, unknown> }[] = []
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET'
    if (url === '/api/tools') return jsonResponse({ tools: TOOLS })
    if (url === '/api/me') return jsonResponse({ id: 'u1', name: 'ada', groups: [{ id: 'g1', name: 'Maths' },
      { id: 'g2', name: 'Physics' }] })
    if (method === 'GET' && stored && url === `/api/assistants/${stored.id}`) return jsonResponse(stored)
    if (method === 'POST' || method === 'PATCH') {
      const body = JSON.parse(String(init.body))
      saved.push({ method, url, body })
      if (body.name === 'Taken') return jsonResponse({ error: { code: 'unknown_model', message: 'No such model' } }, 422)
      return jsonResponse({ ...assistant('new'), ...body, mine: true }, method === 'POST' ? 201 : 200)
    }
    return jsonResponse({ error: { code: 'not_found', message: `${method} ${url}` } }, 404)
  }))
  return saved
}

afterEach(() => vi.unstubAllGlobals())

describe('AssistantEditor', () => {
  it('makes an assistant from every field, shared with a group, by keyboard', async () => {
    const saved = server()
    const onSaved = vi.fn()
    render(<AssistantEditor assistantId={null} models={MODELS} onSaved={onSaved} />)
    const name = await screen.findByLabelText('Name')
    expect(document.activeElement).toBe(name)
    await userEvent.keyboard('Math tutor')
    await userEvent.type(screen.getByLabelText('Avatar'), '🦉')
    await userEvent.type(screen.getByLabelText('Description'), 'Helps with algebra')
    await userEvent.type(screen.getByLabelText('Instructions'), 'Answer with a worked example.')
    await userEvent.selectOptions(screen.getByLabelText('Model'), 'fast')
    await userEvent.type(screen.getByLabelText('Starter 1'), 'Explain derivatives')
    // one tool fewer: an explicit list; the other asks first
    await userEvent.click(screen.getByRole('checkbox', { name: /^web_search/ }))
    await userEvent.click(screen.getByRole('checkbox', { name: 'Ask before using calculator' }))
    expect(screen.queryByRole('checkbox', { name: 'Ask before using web_search' })).toBeNull()
    await userEvent.click(screen.getByRole('radio', { name: /My groups/ }))
    await userEvent.click(within(screen.getByRole('list', { name: 'Groups' })).getByRole('checkbox', { name: 'Maths' }))
    screen.getByRole('button', { name: 'Create assistant' }).focus()
    await userEvent.keyboard('{Enter}')
    await waitFor(() => expect(onSaved).toHaveBeenCalled())
    expect(saved).toEqual([{ method: 'POST', url: '/api/assistants', body: {
      name: 'Math tutor', description: 'Helps with algebra', instructions: 'Answer with a worked example.',
      model: 'fast', tools: ['calculator'], approval_tools: ['calculator'], starters: ['Explain derivatives'],
      avatar: '🦉', color: '#4f46e5', visibility: 'groups', groups: ['g1'] } }])
  }, 20_000)

  it('says what to fix next to the field, focused, before sending anything', async () => {
    const saved = server()
    render(<AssistantEditor assistantId={null} models={MODELS} onSaved={vi.fn()} />)
    await screen.findByLabelText('Name')
    await userEvent.type(screen.getByLabelText('Avatar'), 'ABC')
    await userEvent.click(screen.getByRole('button', { name: 'Create assistant' }))
    const name = screen.getByLabelText('Name')
    expect(document.activeElement).toBe(name)
    expect(name.getAttribute('aria-invalid')).toBe('true')
    expect(document.getElementById(name.getAttribute('aria-describedby')!)?.textContent).toBe('Give it a name.')
    expect(screen.getByText('One emoji, or one or two letters.')).toBeTruthy()
    expect(saved).toEqual([])
  }, 20_000)

  it('edits one of yours (PATCH) with its documents listed, and shows the server’s refusal', async () => {
    const mine = assistant('a1', { mine: true, name: 'Tutor', instructions: 'Be brief.', tools: null,
      starters: ['Hi'], visibility: 'private', documents: [{ id: 'd1', filename: 'notes.pdf', status: 'ready' }] })
    const saved = server(mine)
    const onSaved = vi.fn()
    render(<AssistantEditor assistantId="a1" models={MODELS} onSaved={onSaved} />)
    const instructions = await screen.findByLabelText('Instructions')
    expect((instructions as HTMLTextAreaElement).value).toBe('Be brief.')
    expect(screen.getByTestId('assistant-documents').textContent).toContain('notes.pdf')
    expect((screen.getByRole('checkbox', { name: /^calculator/ }) as HTMLInputElement).checked).toBe(true)
    const name = screen.getByLabelText('Name')
    await userEvent.clear(name)
    await userEvent.type(name, 'Taken')
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }))
    expect((await screen.findByTestId('save-error')).textContent).toBe('Could not save: No such model')
    await userEvent.clear(name)
    await userEvent.type(name, 'Tutor 2')
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }))
    await waitFor(() => expect(onSaved).toHaveBeenCalled())
    expect(saved.at(-1)).toMatchObject({ method: 'PATCH', url: '/api/assistants/a1',
      body: { name: 'Tutor 2', tools: null, starters: ['Hi'], visibility: 'private', groups: [] } })
  }, 20_000)

  it('another’s assistant is not editable here', async () => {
    server(assistant('a2'))
    render(<AssistantEditor assistantId="a2" models={MODELS} onSaved={vi.fn()} />)
    expect((await screen.findByRole('alert')).textContent).toContain('Only its owner, grace, can change it.')
    expect(screen.queryByRole('form')).toBeNull()
  })

  it('uploads documents into one of yours (the form names the assistant) and lists them', async () => {
    const mine = assistant('a1', { mine: true, documents: [] })
    server(mine)
    const posted: FormData[] = []
    const routes = vi.mocked(fetch).getMockImplementation()!
    vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
      if (url === '/api/documents' && init.method === 'POST') {
        posted.push(init.body as FormData)
        mine.documents = [{ id: 'd1', filename: 'notes.md', status: 'queued' }]
        return jsonResponse({ id: 'd1', filename: 'notes.md', status: 'queued' }, 201)
      }
      return routes(url, init)
    }))
    render(<AssistantEditor assistantId="a1" models={MODELS} onSaved={vi.fn()} />)
    await screen.findByRole('button', { name: 'Add documents' })
    await userEvent.upload(screen.getByTestId('assistant-file-input'), new File(['# Notes'], 'notes.md',
      { type: 'text/markdown' }))
    await waitFor(() => expect(screen.getByTestId('assistant-documents').textContent).toContain('notes.md'))
    expect(posted[0].get('assistant_id')).toBe('a1')
    expect((posted[0].get('file') as File).name).toBe('notes.md')
  }, 20_000)
})
