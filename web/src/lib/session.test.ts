import { act, renderHook, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../test/responses'
import { loadApiKey, saveApiKey, useSession } from './session'

const me = { id: 'u1', name: 'ada', tier: 'pro', role: 'user' }

/** /api/me accepts `good` only; /api/auth/config offers single sign-on. */
function fakeServer() {
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit = {}) => {
    if (url === '/api/auth/config') return jsonResponse({ auth: true, oidc: true })
    const auth = (init.headers as Record<string, string>).Authorization
    if (auth === 'Bearer good') return jsonResponse(me)
    return jsonResponse({ error: { code: 'unauthorized', message: 'Invalid API key.' } }, 401)
  }))
}

beforeEach(() => {
  localStorage.clear()
  window.history.replaceState(null, '', '/')
  fakeServer()
})
afterEach(() => vi.unstubAllGlobals())

describe('useSession', () => {
  it('signs in with the saved key', async () => {
    saveApiKey('good')
    const { result } = renderHook(() => useSession())
    expect(result.current.session.state).toBe('loading')
    await waitFor(() => expect(result.current.session).toEqual({ state: 'signed-in', me, apiKey: 'good' }))
    expect(result.current.sso).toBe(true)
  })

  it('a saved key the server refuses asks to sign in, saying so', async () => {
    saveApiKey('old')
    const { result } = renderHook(() => useSession())
    await waitFor(() =>
      expect(result.current.session).toEqual({ state: 'signed-out', message: 'Your saved key was not accepted.' }))
  })

  it('keeps a typed-in key only once the server takes it', async () => {
    const { result } = renderHook(() => useSession())
    await waitFor(() => expect(result.current.session.state).toBe('signed-out'))
    expect(await result.current.signIn('bad')).toBe('That key was not accepted.')
    expect(loadApiKey()).toBeNull()
    await act(async () => expect(await result.current.signIn('good')).toBeNull())
    expect(loadApiKey()).toBe('good')
    expect(result.current.session.state).toBe('signed-in')
  })

  it('signing out forgets the key and leaves the account page', async () => {
    saveApiKey('good')
    window.history.replaceState(null, '', '/account')
    const { result } = renderHook(() => useSession())
    await waitFor(() => expect(result.current.session.state).toBe('signed-in'))
    act(() => result.current.signOut('Your account and everything it held were deleted.'))
    expect(result.current.session).toEqual({ state: 'signed-out', message: 'Your account and everything it held were deleted.' })
    expect(loadApiKey()).toBeNull()
    expect(window.location.pathname).toBe('/')
  })

  it('a server it cannot reach is said so', async () => {
    vi.stubGlobal('fetch', vi.fn(async (url: string) =>
      url === '/api/me' ? jsonResponse({ error: { code: 'internal', message: 'Down.', request_id: 'r1' } }, 500)
        : jsonResponse({ auth: true, oidc: false })))
    const { result } = renderHook(() => useSession())
    await waitFor(() => expect(result.current.session).toEqual({ state: 'failed', message: 'Down. (request r1)' }))
  })
})
