import { afterEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../test/responses'
import { fetchMe } from './api'
import { ApiError, apiFetch, describeError, request } from './http'

afterEach(() => vi.unstubAllGlobals())

/** Stubs fetch with one answer; returns the mock, to read what was sent. */
function answering(response: Response) {
  const fetch = vi.fn(async (_url: string, _init?: RequestInit) => response)
  vi.stubGlobal('fetch', fetch)
  return fetch
}

function sentHeaders(fetch: ReturnType<typeof answering>): Record<string, string> {
  return fetch.mock.calls[0][1]!.headers as Record<string, string>
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(ApiError)
  return err as ApiError
}

describe('apiFetch', () => {
  it('sends the key as a bearer token, and the JSON content type with a JSON body', async () => {
    const fetch = answering(jsonResponse({ ok: true }))
    await apiFetch('/api/x', 'k', { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { Accept: 'text/plain' } })
    expect(sentHeaders(fetch)).toEqual({ Authorization: 'Bearer k', 'Content-Type': 'application/json', Accept: 'text/plain' })
  })

  it('sends no Authorization without a key, and leaves a FormData body its own content type', async () => {
    const fetch = answering(jsonResponse({}))
    await apiFetch('/api/documents', null, { method: 'POST', body: new FormData() })
    expect(sentHeaders(fetch)).toEqual({})
  })

  it('turns the error envelope into an ApiError with its code, message and request id', async () => {
    answering(jsonResponse({ error: { code: 'thread_busy', message: 'Busy.', request_id: 'req-9' } }, 409))
    const err = await refusal(apiFetch('/api/x', 'k'))
    expect(err).toMatchObject({ status: 409, code: 'thread_busy', message: 'Busy.', requestId: 'req-9' })
    expect(describeError(err)).toBe('Busy. (request req-9)')
  })

  it('says the status when the body is not an envelope (a proxy page), with the request id header', async () => {
    answering(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway',
      headers: { 'X-Request-ID': 'req-h' } }))
    const err = await refusal(apiFetch('/api/x', null))
    expect(err).toMatchObject({ status: 502, code: 'http_error', message: '502 Bad Gateway', requestId: 'req-h' })
  })

  it('a 401 throws like any refusal, unless the caller allows it', async () => {
    answering(jsonResponse({ error: { code: 'unauthorized', message: 'Invalid API key.' } }, 401))
    expect(await refusal(apiFetch('/api/keys', 'old'))).toMatchObject({ status: 401, code: 'unauthorized' })
    answering(jsonResponse({ error: { code: 'unauthorized', message: 'Invalid API key.' } }, 401))
    expect((await apiFetch('/api/keys', 'old', {}, { allow: [401] })).status).toBe(401)
  })

  it('lets a lost connection through as it is (not an ApiError)', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))))
    await expect(apiFetch('/api/x', 'k')).rejects.toThrow(TypeError)
  })
})

describe('request', () => {
  it('reads the JSON answer, and nothing from a 204', async () => {
    answering(jsonResponse({ id: 't1' }))
    expect(await request('/api/threads/t1', 'k')).toEqual({ id: 't1' })
    answering(new Response(null, { status: 204 }))
    expect(await request('/api/threads/t1', 'k', { method: 'DELETE' })).toBeUndefined()
  })
})

describe('fetchMe', () => {
  it('a 401 means "sign in", not an error', async () => {
    answering(jsonResponse({ error: { code: 'unauthorized', message: 'no' } }, 401))
    expect(await fetchMe('bad')).toEqual({ kind: 'unauthorized' })
  })

  it('another refusal throws', async () => {
    answering(jsonResponse({ error: { code: 'internal', message: 'Storage is down.' } }, 503))
    expect(await refusal(fetchMe('k'))).toMatchObject({ status: 503, message: 'Storage is down.' })
  })
})

describe('describeError', () => {
  it('is the message of any other error', () => {
    expect(describeError(new Error('boom'))).toBe('boom')
    expect(describeError(new ApiError(400, 'bad', 'Bad.'))).toBe('Bad.')
    expect(describeError('plain')).toBe('plain')
  })
})
