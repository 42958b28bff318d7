import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fetchAuthConfig, ssoErrorMessage } from '../lib/account'
import { jsonResponse } from '../test/responses'
import SignIn from './SignIn'

afterEach(() => vi.unstubAllGlobals())

describe('SignIn', () => {
  it('without single sign-on: the key form only, focused', () => {
    render(<SignIn onSubmit={vi.fn(async () => null)} />)
    expect(screen.queryByRole('link', { name: 'Sign in with SSO' })).toBeNull()
    expect(document.activeElement).toBe(screen.getByLabelText('API key'))
  })

  it('with single sign-on: its button first, leading to the server’s login; keys still work', async () => {
    const onSubmit = vi.fn(async () => null)
    render(<SignIn onSubmit={onSubmit} sso />)
    const sso = screen.getByRole('link', { name: 'Sign in with SSO' })
    expect(sso.getAttribute('href')).toBe('/auth/oidc/login')
    await userEvent.tab()
    expect(document.activeElement).toBe(sso)
    await userEvent.type(screen.getByLabelText('API key'), 'pk-abc{Enter}')
    expect(onSubmit).toHaveBeenCalledWith('pk-abc')
  })

  it('shows why the last session ended', () => {
    render(<SignIn onSubmit={vi.fn(async () => null)} initialError="Your account was deleted." sso />)
    expect(screen.getByRole('alert').textContent).toBe('Your account was deleted.')
  })
})

describe('ssoErrorMessage', () => {
  it('explains each failure code the server sends, in words, without the code', () => {
    const codes = ['oidc_denied', 'oidc_login_expired', 'oidc_state_mismatch', 'oidc_invalid_token',
      'oidc_token_failed', 'oidc_unavailable']
    const messages = codes.map(ssoErrorMessage)
    expect(new Set(messages).size).toBe(codes.length)
    messages.forEach((m, i) => expect(m).not.toContain(codes[i]))
    expect(ssoErrorMessage('oidc_unavailable')).toMatch(/could not be reached/)
  })

  it('an unknown code still gets a general message', () => {
    expect(ssoErrorMessage('<script>')).toBe('Single sign-on did not complete. Please try again.')
  })

  it('shows on the sign-in screen beside the SSO button, to try again', () => {
    render(<SignIn onSubmit={vi.fn(async () => null)} initialError={ssoErrorMessage('oidc_login_expired')} sso />)
    expect(screen.getByRole('alert').textContent).toMatch(/took too long/)
    expect(screen.getByRole('link', { name: 'Sign in with SSO' })).toBeTruthy()
  })
})

describe('fetchAuthConfig', () => {
  it('reads the server’s answer', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse({ auth: true, oidc: true })))
    expect(await fetchAuthConfig()).toEqual({ auth: true, oidc: true })
  })

  it('a server that cannot say (older, or failing) offers keys only', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse({ error: { code: 'x', message: 'y' } }, 404)))
    expect(await fetchAuthConfig()).toEqual({ auth: true, oidc: false })
    vi.stubGlobal('fetch', vi.fn(async () => {
      throw new TypeError('network')
    }))
    expect(await fetchAuthConfig()).toEqual({ auth: true, oidc: false })
  })
})
