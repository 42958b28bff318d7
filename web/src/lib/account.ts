import { apiFetch, request } from './http'

// The signed-in user's account: the server's sign-in options, their API keys, their data.

/** What the sign-in screen needs: are keys required at all, and is single sign-on offered. */
export type AuthConfig = { auth: boolean; oidc: boolean }

export const SSO_LOGIN_PATH = '/auth/oidc/login'

// A failed single sign-on comes back as `/#parlor-sso-error=<code>` (parlor/api/oidc.py): say it in words.
const SSO_ERRORS: Record<string, string> = {
  oidc_denied: 'Your organisation’s sign-in did not let you in. Try again, or ask your administrator for access.',
  oidc_login_expired: 'That sign-in took too long or was started in another browser. Please sign in again.',
  oidc_state_mismatch: 'That sign-in was started in another tab or browser. Please sign in again from here.',
  oidc_invalid_token: 'Your organisation’s sign-in could not be verified. Try again, or ask your administrator.',
  oidc_token_failed: 'Your organisation’s sign-in did not complete. Please try again.',
  oidc_unavailable: 'Your organisation’s sign-in service could not be reached. Please try again in a moment.',
}

/** The sign-in screen's words for a single sign-on failure code (unknown codes get a general message). */
export function ssoErrorMessage(code: string): string {
  return SSO_ERRORS[code] ?? 'Single sign-on did not complete. Please try again.'
}

/** GET /api/auth/config; a server that cannot say offers keys only. */
export async function fetchAuthConfig(signal?: AbortSignal): Promise<AuthConfig> {
  try {
    // No key: the sign-in screen asks this before anyone is signed in.
    const res = await apiFetch('/api/auth/config', null, { signal })
    const body = (await res.json()) as Partial<AuthConfig>
    return { auth: body.auth !== false, oidc: body.oidc === true }
  } catch (err) {
    if (signal?.aborted) throw err
    return { auth: true, oidc: false } // refused or unreachable: keys only
  }
}

/** One of the user's keys as `GET /api/keys` lists it: never the key itself. */
export type KeyInfo = {
  id: string
  name: string | null
  prefix: string
  created_at: string
  expires_at: string | null
  revoked_at: string | null
  /** The key this browser is signed in with. */
  current?: boolean
  last_used_at?: string | null
}

/** A key just made: the secret comes in this answer only. */
export type NewKey = KeyInfo & { api_key: string }

export async function listKeys(key: string | null, signal?: AbortSignal): Promise<KeyInfo[]> {
  return (await request<{ keys: KeyInfo[] }>('/api/keys', key, { signal })).keys
}

export function createKey(key: string | null, name: string, expiresInDays: number | null): Promise<NewKey> {
  return request<NewKey>('/api/keys', key, {
    method: 'POST',
    body: JSON.stringify({ name: name.trim() || null, expires_in_days: expiresInDays }),
  })
}

export function revokeKey(key: string | null, id: string): Promise<void> {
  return request<void>(`/api/keys/${encodeURIComponent(id)}`, key, { method: 'DELETE' })
}

export function deleteAccount(key: string | null, confirm: string): Promise<void> {
  return request<void>('/api/account', key, { method: 'DELETE', body: JSON.stringify({ confirm }) })
}

/** The export as a file: its name (from Content-Disposition) and its bytes. */
export async function fetchExport(key: string | null): Promise<{ filename: string; blob: Blob }> {
  const res = await apiFetch('/api/account/export', key)
  const named = /filename="?([^";]+)"?/.exec(res.headers.get('Content-Disposition') ?? '')
  return { filename: named?.[1] ?? 'parlor-export.json', blob: await res.blob() }
}

/** Hands a blob to the browser as a download (a link with `download`: no script, so the CSP is content). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export type KeyState = 'active' | 'expired' | 'revoked'

export function keyState(info: KeyInfo, now: Date = new Date()): KeyState {
  if (info.revoked_at) return 'revoked'
  if (info.expires_at && new Date(info.expires_at) <= now) return 'expired'
  return 'active'
}

/** A date as people read it, e.g. "3 Mar 2026"; "never" for none. */
export function formatDate(iso: string | null | undefined, never = 'never'): string {
  if (!iso) return never
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })
}

/** How long a new key lives: the choices the form offers (days; null = never expires). */
export const EXPIRY_CHOICES: ReadonlyArray<{ label: string; days: number | null }> = [
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
  { label: '7 days', days: 7 },
  { label: 'Never', days: null },
]
