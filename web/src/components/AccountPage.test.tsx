import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { KeyInfo } from '../lib/account'
import { ApiKeyContext } from '../lib/session'
import { jsonResponse } from '../test/responses'
import AccountPage from './AccountPage'

const me = { id: 'u1', name: 'ada', tier: 'pro', role: 'user' }
const DAY = 86_400_000

/** The account routes as the server answers them, over a list of keys held here. */
function fakeServer(keys: KeyInfo[]) {
  const calls: { method: string; url: string; body: unknown; auth: string | null }[] = []
  let deleted = false
  const fetch = vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET'
    const body = init.body ? JSON.parse(String(init.body)) : null
    calls.push({ method, url, body, auth: new Headers(init.headers).get('Authorization') })
    if (url === '/api/keys' && method === 'GET') return jsonResponse({ keys })
    if (url === '/api/keys' && method === 'POST') {
      const made = { id: `k${keys.length + 1}`, name: body.name, prefix: 'pk-newkey1', created_at: new Date().toISOString(),
        expires_at: body.expires_in_days ? new Date(Date.now() + body.expires_in_days * DAY).toISOString() : null,
        revoked_at: null }
      keys.push({ ...made, current: false })
      return jsonResponse({ ...made, api_key: 'pk-the-whole-secret-key' }, 201)
    }
    const revoke = /^\/api\/keys\/(\w+)$/.exec(url)
    if (revoke && method === 'DELETE') {
      const key = keys.find((k) => k.id === revoke[1])!
      key.revoked_at = new Date().toISOString()
      return new Response(null, { status: 204 })
    }
    if (url === '/api/account/export') {
      return new Response(JSON.stringify({ threads: [] }), { headers: {
        'Content-Type': 'application/json', 'Content-Disposition': 'attachment; filename="parlor-export-u1.json"' } })
    }
    if (url === '/api/account' && method === 'DELETE') {
      if (body.confirm !== me.name) return jsonResponse({ error: { code: 'confirmation_mismatch', message: 'no' } }, 422)
      deleted = true
      return jsonResponse({ deleted: true, rows: {} })
    }
    return jsonResponse({ error: { code: 'not_found', message: `unexpected ${method} ${url}` } }, 404)
  })
  vi.stubGlobal('fetch', fetch)
  return { calls, isDeleted: () => deleted }
}

function keyInfo(id: string, name: string | null, extra: Partial<KeyInfo> = {}): KeyInfo {
  return { id, name, prefix: `pk-${id}xxxx`, created_at: '2026-01-05T10:00:00Z', expires_at: null, revoked_at: null,
    current: false, ...extra }
}

function renderPage(apiKey: string | null = 'pk-mine') {
  const onSignedOut = vi.fn()
  render(
    <ApiKeyContext.Provider value={apiKey}>
      <AccountPage me={me} onSignedOut={onSignedOut} />
    </ApiKeyContext.Provider>,
  )
  return onSignedOut
}

beforeEach(() => {
  URL.createObjectURL = vi.fn(() => 'blob:export')
  URL.revokeObjectURL = vi.fn()
})
afterEach(() => vi.unstubAllGlobals())

describe('AccountPage', () => {
  it('shows who you are and your active keys, newest first, marking this browser’s', async () => {
    fakeServer([keyInfo('a', 'sign-in', { current: true }), keyInfo('b', 'laptop', {
      created_at: '2026-02-01T10:00:00Z', expires_at: new Date(Date.now() + 30 * DAY).toISOString() }),
    keyInfo('c', 'old', { revoked_at: '2026-01-20T10:00:00Z' }),
    keyInfo('d', 'lapsed', { expires_at: '2026-01-06T10:00:00Z' })])
    renderPage()
    expect(screen.getByTestId('account-name').textContent).toBe('ada')
    expect(screen.getByText('pro')).toBeTruthy()
    const active = await screen.findByRole('list', { name: 'Active keys' })
    const rows = within(active).getAllByTestId('key-row')
    expect(rows.map((r) => r.querySelector('.key-name')?.textContent)).toEqual(['laptop', 'sign-in'])
    expect(within(rows[1]).getByTestId('current-key')).toBeTruthy()
    expect(rows[0].textContent).toMatch(/Expires /)
    expect(rows[1].textContent).toContain('Never expires')
    // revoked and expired keys are tucked away, without a revoke button
    const inactive = screen.getByRole('list', { name: 'Revoked and expired keys' })
    expect(within(inactive).getAllByTestId('key-row').map((r) => r.dataset.state)).toEqual(['expired', 'revoked'])
    expect(within(inactive).queryByTestId('revoke-key')).toBeNull()
  })

  it('creates a key: sends name and expiry, shows the secret once with a copy button, focus on it', async () => {
    const server = fakeServer([keyInfo('a', 'sign-in', { current: true })])
    const writeText = vi.fn(async () => {})
    Object.defineProperty(window, 'isSecureContext', { value: true, configurable: true })
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    renderPage()
    await screen.findByRole('list', { name: 'Active keys' })
    await userEvent.type(screen.getByLabelText('Name'), 'ci bot')
    await userEvent.selectOptions(screen.getByLabelText('Expires after'), '90 days')
    await userEvent.click(screen.getByRole('button', { name: 'Create key' }))
    const notice = await screen.findByTestId('new-key')
    expect(server.calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'ci bot', expires_in_days: 90 })
    expect((within(notice).getByLabelText('Your new API key') as HTMLInputElement).value).toBe('pk-the-whole-secret-key')
    expect(notice.textContent).toContain('you won’t see it again')
    expect(document.activeElement?.id).toBe('new-key-title')
    await userEvent.click(within(notice).getByRole('button', { name: 'Copy' }))
    expect(writeText).toHaveBeenCalledWith('pk-the-whole-secret-key')
    expect(within(notice).getByRole('button', { name: 'Copied' })).toBeTruthy()
    // the list has it too, and dismissing the notice forgets the secret
    await waitFor(() => expect(screen.getAllByTestId('key-row')).toHaveLength(2))
    await userEvent.click(screen.getByRole('button', { name: 'I’ve saved it' }))
    expect(screen.queryByTestId('new-key')).toBeNull()
    expect(document.body.textContent).not.toContain('pk-the-whole-secret-key')
    // every call carried this browser's key
    expect(server.calls.every((c) => c.auth === 'Bearer pk-mine')).toBe(true)
  })

  it('revokes a key only after confirming; cancelling keeps it', async () => {
    const server = fakeServer([keyInfo('a', 'sign-in', { current: true }), keyInfo('b', 'laptop')])
    const onSignedOut = renderPage()
    await userEvent.click(await screen.findByRole('button', { name: 'Revoke “laptop”' }))
    const dialog = screen.getByTestId('confirm-dialog')
    expect(dialog.textContent).toContain('will stop working at once')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(server.calls.some((c) => c.method === 'DELETE')).toBe(false)
    await userEvent.click(screen.getByRole('button', { name: 'Revoke “laptop”' }))
    await userEvent.click(within(screen.getByTestId('confirm-dialog')).getByRole('button', { name: 'Revoke' }))
    await waitFor(() => expect(within(screen.getByRole('list', { name: 'Active keys' })).getAllByTestId('key-row'))
      .toHaveLength(1))
    expect(server.calls.some((c) => c.method === 'DELETE' && c.url === '/api/keys/b')).toBe(true)
    expect(onSignedOut).not.toHaveBeenCalled()
  })

  it('revoking this browser’s key warns, then signs out', async () => {
    fakeServer([keyInfo('a', 'sign-in', { current: true })])
    const onSignedOut = renderPage()
    await userEvent.click(await screen.findByRole('button', { name: 'Revoke “sign-in”' }))
    const dialog = screen.getByTestId('confirm-dialog')
    expect(dialog.textContent).toContain('you will be signed out')
    await userEvent.click(within(dialog).getByRole('button', { name: 'Revoke' }))
    await waitFor(() => expect(onSignedOut).toHaveBeenCalledOnce())
  })

  it('exports: downloads the JSON under the server’s file name', async () => {
    fakeServer([])
    const clicked: string[] = []
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(`${this.download} ${this.href}`)
    })
    renderPage()
    await userEvent.click(screen.getByRole('button', { name: 'Export my data' }))
    expect((await screen.findByText('Downloaded parlor-export-u1.json.')).getAttribute('role')).toBe('status')
    expect(clicked).toEqual(['parlor-export-u1.json blob:export'])
    click.mockRestore()
  })

  it('deletes the account only once the name is typed, then signs out', async () => {
    const server = fakeServer([])
    const onSignedOut = renderPage()
    await userEvent.click(screen.getByRole('button', { name: 'Delete my account…' }))
    const dialog = screen.getByTestId('confirm-dialog')
    const confirm = within(dialog).getByRole('button', { name: 'Delete my account' })
    const input = within(dialog).getByLabelText(/Type your account name/)
    expect(document.activeElement).toBe(input)
    expect((confirm as HTMLButtonElement).disabled).toBe(true)
    await userEvent.type(input, 'ad')
    expect((confirm as HTMLButtonElement).disabled).toBe(true)
    await userEvent.type(input, 'a{Enter}')
    await waitFor(() => expect(onSignedOut).toHaveBeenCalledOnce())
    expect(server.isDeleted()).toBe(true)
    expect(server.calls.find((c) => c.method === 'DELETE')?.body).toEqual({ confirm: 'ada' })
  })

  it('with auth off: no keys and no delete, export still there', () => {
    fakeServer([])
    renderPage(null)
    expect(screen.queryByTestId('api-keys')).toBeNull()
    expect(screen.queryByRole('button', { name: 'Delete my account…' })).toBeNull()
    expect(screen.getByRole('button', { name: 'Export my data' })).toBeTruthy()
  })
})
