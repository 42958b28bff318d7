import { createContext, useCallback, useContext, useEffect, useState } from 'react'
import { fetchAuthConfig } from './account'
import { fetchMe, type Me } from './api'
import { describeError } from './http'

// Who is signed in: the API key this browser keeps, the server's sign-in options, signing in and out.

const KEY_STORAGE = 'parlor.apiKey'

export function loadApiKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE)
  } catch {
    return null // storage blocked (a privacy setting): as if no key were saved
  }
}

export function saveApiKey(key: string): void {
  localStorage.setItem(KEY_STORAGE, key)
}

export function clearApiKey(): void {
  localStorage.removeItem(KEY_STORAGE)
}

export type Session =
  | { state: 'loading' }
  | { state: 'signed-out'; message: string | null }
  /** apiKey is null when the server runs without auth (PARLOR_AUTH=off). */
  | { state: 'signed-in'; me: Me; apiKey: string | null }
  | { state: 'failed'; message: string }

export type SessionControls = {
  session: Session
  /** The server offers single sign-on: the sign-in screen shows its button. */
  sso: boolean
  /** Signs in with a typed-in key; the reason it was refused, or null when it was taken. */
  signIn: (key: string) => Promise<string | null>
  /** Forgets the key and goes back to the sign-in screen, saying why when there is a reason. */
  signOut: (message?: string | null) => void
}

/** ssoError: why the single sign-on this page came back from failed, shown on the sign-in screen. */
export function useSession(ssoError: string | null = null): SessionControls {
  const [session, setSession] = useState<Session>({ state: 'loading' })
  const [sso, setSso] = useState(false)

  useEffect(() => {
    const controller = new AbortController()
    const key = loadApiKey()
    // Both at once, and the sign-in screen only once both are known: its SSO button never pops in late.
    Promise.all([fetchMe(key, controller.signal), fetchAuthConfig(controller.signal)])
      .then(([result, config]) => {
        setSso(config.oidc)
        if (result.kind === 'ok') setSession({ state: 'signed-in', me: result.me, apiKey: key })
        else setSession({ state: 'signed-out', message: ssoError ?? (key ? 'Your saved key was not accepted.' : null) })
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return
        setSession({ state: 'failed', message: describeError(err) })
      })
    return () => controller.abort()
  }, [ssoError])

  const signIn = useCallback(async (key: string): Promise<string | null> => {
    const result = await fetchMe(key)
    if (result.kind === 'unauthorized') return 'That key was not accepted.'
    saveApiKey(key)
    setSession({ state: 'signed-in', me: result.me, apiKey: key })
    return null
  }, [])

  const signOut = useCallback((message: string | null = null) => {
    clearApiKey()
    // Signing in again starts on a chat, not on the account page this ended from.
    if (window.location.pathname === '/account') window.history.replaceState(null, '', '/')
    setSession({ state: 'signed-out', message })
  }, [])

  return { session, sso, signIn, signOut }
}

/** The signed-in user's API key (null when the server runs without auth), for components deep in the tree. */
export const ApiKeyContext = createContext<string | null>(null)

export function useApiKey(): string | null {
  return useContext(ApiKeyContext)
}
