import { parseErrorBody } from './http'

/** What the chat's fetch saw of the last failed HTTP answer (useChat itself keeps only the body text). */
export type HttpFailure = {
  status: number
  retryAfter: string | null
  rateLimit: string | null
  rateLimitPolicy: string | null
  /** Date.now() when the answer arrived: Retry-After counts from then. */
  at: number
}

export type ChatFailure =
  | {
      kind: 'rate-limited'
      code: string
      message: string
      /** Epoch ms from which a retry may succeed, when the server said. */
      retryAt: number | null
      /** The exhausted window, from the RateLimit headers, e.g. "3 requests a minute". */
      window: string | null
      requestId: string | null
    }
  | { kind: 'network'; message: string }
  | { kind: 'busy'; message: string }
  /** A failure inside the stream (the provider, the model, storage): the answer can be regenerated. */
  | { kind: 'provider'; message: string }
  /** Any other refusal before the stream (413, 422, 503…): nothing was stored. */
  | { kind: 'http'; status: number; code: string; message: string; requestId: string | null }

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value == null || value.trim() === '') return null
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return now + Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? null : date
}

/** Structured-field lists of the IETF RateLimit draft: `"minute";q=3;w=60, "hour";q=100;w=3600`. */
export function parseRateLimitList(value: string | null): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>()
  if (!value) return out
  for (const item of value.split(',')) {
    const [rawName, ...params] = item.trim().split(';')
    const name = rawName.trim().replace(/^"|"$/g, '')
    if (!name) continue
    const fields: Record<string, number> = {}
    for (const param of params) {
      const [k, v] = param.split('=')
      const n = Number(v)
      if (k && Number.isFinite(n)) fields[k.trim()] = n
    }
    out.set(name, fields)
  }
  return out
}

const WINDOW_WORDS: Record<string, string> = { minute: 'a minute', hour: 'an hour', day: 'a day' }

/** The window that ran out ("3 requests a minute"), from the 429's RateLimit and RateLimit-Policy. */
export function exhaustedWindow(rateLimit: string | null, policy: string | null): string | null {
  const current = parseRateLimitList(rateLimit)
  const policies = parseRateLimitList(policy)
  for (const [name, fields] of current) {
    if (fields.r === 0) {
      const quota = policies.get(name)?.q
      const per = WINDOW_WORDS[name] ?? `per ${name}`
      return quota != null ? `${quota} ${quota === 1 ? 'request' : 'requests'} ${per}` : `the ${name} limit`
    }
  }
  return null
}

function isNetworkError(message: string): boolean {
  const lower = message.toLowerCase()
  return (
    lower.includes('failed to fetch') ||
    lower.includes('network') ||
    lower.includes('load failed') ||
    lower.includes('err_internet_disconnected') ||
    lower.includes('err_connection')
  )
}

/**
 * Turns useChat's error (a thrown TypeError for a lost connection, the response body for a non-2xx
 * answer, the `errorText` of an `error` chunk) plus what the fetch saw into one thing to show.
 */
export function classifyChatError(error: Error, lastFailure: HttpFailure | null): ChatFailure {
  const raw = error.message ?? ''
  const envelope = parseErrorBody(raw)
  if (envelope) {
    const status = lastFailure?.status ?? 0
    if (status === 429 || envelope.code === 'rate_limited' || envelope.code === 'token_budget_exhausted') {
      return {
        kind: 'rate-limited',
        code: envelope.code,
        message: envelope.message,
        retryAt: lastFailure ? parseRetryAfter(lastFailure.retryAfter, lastFailure.at) : null,
        window: lastFailure ? exhaustedWindow(lastFailure.rateLimit, lastFailure.rateLimitPolicy) : null,
        requestId: envelope.requestId,
      }
    }
    if (envelope.code === 'thread_busy') return { kind: 'busy', message: envelope.message }
    return { kind: 'http', status, code: envelope.code, message: envelope.message, requestId: envelope.requestId }
  }
  if (error.name === 'TypeError' && isNetworkError(raw)) {
    return { kind: 'network', message: raw }
  }
  return { kind: 'provider', message: raw || 'The model did not answer.' }
}

/** "42 s", "3 min 5 s", "2 h 10 min". */
export function formatWait(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`
  const hours = Math.floor(minutes / 60)
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`
}

/** A tool's run time: "12 ms", "1.4 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
}
