// The one way the UI talks HTTP to Parlor: every request sends the key, every refusal becomes an ApiError.

/** A non-2xx answer from Parlor, from its error envelope `{"error": {"code", "message", "request_id"}}`. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly requestId: string | null

  constructor(status: number, code: string, message: string, requestId: string | null = null) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.requestId = requestId
  }
}

/** The Authorization header for a key; none when the server runs without auth (no key). */
export function authHeaders(key: string | null): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {}
}

/** The error envelope's parts, or null when the body is not one. */
export function parseErrorBody(raw: string): { code: string; message: string; requestId: string | null } | null {
  try {
    const body: unknown = JSON.parse(raw)
    if (body && typeof body === 'object' && 'error' in body) {
      const err = (body as { error: unknown }).error
      if (typeof err === 'string') return { code: 'error', message: err, requestId: null }
      if (err && typeof err === 'object' && 'message' in err) {
        const { message, code, request_id } = err as { message?: unknown; code?: unknown; request_id?: unknown }
        if (typeof message === 'string') {
          return {
            code: typeof code === 'string' ? code : 'error',
            message,
            requestId: typeof request_id === 'string' ? request_id : null,
          }
        }
      }
    }
  } catch {
    // not JSON
  }
  return null
}

/** The ApiError for a refused answer; a body that is no envelope (a proxy's page) says only the status. */
export async function apiError(res: Response): Promise<ApiError> {
  const parsed = parseErrorBody(await res.text())
  return new ApiError(res.status, parsed?.code ?? 'http_error', parsed?.message ?? `${res.status} ${res.statusText}`,
    parsed?.requestId ?? res.headers.get('X-Request-ID'))
}

/** RequestInit with plain-object headers: they are merged over the ones added here. */
export type ApiInit = Omit<RequestInit, 'headers'> & { headers?: Record<string, string> }

export type FetchOptions = {
  /** Statuses the caller reads itself (a 404 that means "new chat", a 401 that means "sign in"). */
  allow?: number[]
}

/**
 * fetch for Parlor's routes: adds the key (and the JSON content type for a JSON body; a FormData body
 * sets its own) and throws an ApiError for a non-2xx answer unless its status is in `allow`.
 */
export async function apiFetch(path: string, key: string | null, init: ApiInit = {},
  { allow = [] }: FetchOptions = {}): Promise<Response> {
  const json: Record<string, string> = typeof init.body === 'string' ? { 'Content-Type': 'application/json' } : {}
  const res = await fetch(path, { ...init, headers: { ...authHeaders(key), ...json, ...init.headers } })
  if (!res.ok && !allow.includes(res.status)) throw await apiError(res)
  return res
}

/** apiFetch, then the answer's JSON (undefined for a 204). */
export async function request<T>(path: string, key: string | null, init: ApiInit = {}): Promise<T> {
  const res = await apiFetch(path, key, init)
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

/** An error in words for people, with the server's request id when it gave one (to quote to an admin). */
export function describeError(err: unknown): string {
  if (err instanceof ApiError && err.requestId) return `${err.message} (request ${err.requestId})`
  return err instanceof Error ? err.message : String(err)
}
