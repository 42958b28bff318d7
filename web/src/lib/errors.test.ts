import { describe, expect, it } from 'vitest'
import { classifyChatError, exhaustedWindow, formatDuration, formatWait, parseRateLimitList, parseRetryAfter } from './errors'

const envelope = (code: string, message: string) =>
  JSON.stringify({ error: { code, message, request_id: 'req-1' } })

describe('Retry-After', () => {
  it('reads delta-seconds from the time of the answer', () => {
    expect(parseRetryAfter('42', 1_000)).toBe(43_000)
  })
  it('reads an HTTP date', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', 0)).toBe(Date.parse('2015-10-21T07:28:00Z'))
  })
  it('ignores nonsense', () => {
    expect(parseRetryAfter('soon', 0)).toBeNull()
    expect(parseRetryAfter(null, 0)).toBeNull()
  })
})

describe('RateLimit headers', () => {
  it('parses the structured list', () => {
    const parsed = parseRateLimitList('"minute";q=3;w=60, "hour";q=100;w=3600')
    expect(parsed.get('minute')).toEqual({ q: 3, w: 60 })
    expect(parsed.get('hour')).toEqual({ q: 100, w: 3600 })
  })
  it('names the window that ran out', () => {
    expect(exhaustedWindow('"minute";r=0;t=42, "hour";r=97;t=3600', '"minute";q=3;w=60, "hour";q=100;w=3600')).toBe(
      '3 requests a minute',
    )
    expect(exhaustedWindow('"minute";r=2;t=42', '"minute";q=3;w=60')).toBeNull()
  })
})

describe('classifyChatError', () => {
  it('a 429 carries the retry time and the window', () => {
    const failure = classifyChatError(new Error(envelope('rate_limited', 'Too many requests; retry in 42 s.')), {
      status: 429,
      retryAfter: '42',
      rateLimit: '"minute";r=0;t=42',
      rateLimitPolicy: '"minute";q=3;w=60',
      at: 10_000,
    })
    expect(failure).toMatchObject({ kind: 'rate-limited', retryAt: 52_000, window: '3 requests a minute', requestId: 'req-1' })
  })
  it('an exhausted token budget is a limit too', () => {
    const failure = classifyChatError(new Error(envelope('token_budget_exhausted', 'No tokens left today.')), {
      status: 429, retryAfter: '3600', rateLimit: null, rateLimitPolicy: null, at: 0,
    })
    expect(failure).toMatchObject({ kind: 'rate-limited', code: 'token_budget_exhausted', retryAt: 3_600_000 })
  })
  it('a lost connection is a network failure', () => {
    expect(classifyChatError(new TypeError('Failed to fetch'), null).kind).toBe('network')
    expect(classifyChatError(new TypeError('network error'), null).kind).toBe('network')
  })
  it('an error chunk from the stream is a provider failure, even when it mentions the network', () => {
    expect(classifyChatError(new Error('All providers are unavailable (network).'), null)).toEqual({
      kind: 'provider', message: 'All providers are unavailable (network).',
    })
  })
  it('a busy thread and other refusals', () => {
    expect(classifyChatError(new Error(envelope('thread_busy', 'busy')), { status: 409, retryAfter: null, rateLimit: null, rateLimitPolicy: null, at: 0 }).kind).toBe('busy')
    expect(classifyChatError(new Error(envelope('message_too_long', 'too long')), { status: 413, retryAfter: null, rateLimit: null, rateLimitPolicy: null, at: 0 })).toMatchObject({ kind: 'http', status: 413, code: 'message_too_long' })
  })
})

describe('formatting', () => {
  it('waits', () => {
    expect(formatWait(41_200)).toBe('42 s')
    expect(formatWait(185_000)).toBe('3 min 5 s')
    expect(formatWait(7_800_000)).toBe('2 h 10 min')
  })
  it('durations', () => {
    expect(formatDuration(12.4)).toBe('12 ms')
    expect(formatDuration(1_440)).toBe('1.4 s')
  })
})
