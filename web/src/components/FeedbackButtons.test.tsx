import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { jsonResponse } from '../test/responses'
import { FeedbackButtons } from './FeedbackButtons'

afterEach(() => vi.unstubAllGlobals())

function server() {
  const fetch = vi.fn(async (_url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body)) as { rating: string | null; comment: string | null }
    return jsonResponse({ message_id: 'm', ...body, updated_at: '2026-01-01T00:00:00Z' })
  })
  vi.stubGlobal('fetch', fetch)
  return fetch
}

const sent = (fetch: ReturnType<typeof server>, i: number) => JSON.parse(String(fetch.mock.calls[i][1].body)) as unknown

describe('FeedbackButtons', () => {
  it('starts from the stored rating (pressed)', () => {
    server()
    render(<FeedbackButtons messageId="m1" stored={{ rating: 'down', comment: 'wrong year' }} />)
    expect(screen.getByRole('button', { name: 'Bad answer' }).getAttribute('aria-pressed')).toBe('true')
    expect(screen.getByRole('button', { name: 'Good answer' }).getAttribute('aria-pressed')).toBe('false')
  })

  it('rates, adds an optional comment, changes its mind, clears', async () => {
    const fetch = server()
    render(<FeedbackButtons messageId="m2" />)
    await userEvent.click(screen.getByRole('button', { name: 'Good answer' }))
    expect(fetch.mock.calls[0][0]).toBe('/api/messages/m2/feedback')
    expect(sent(fetch, 0)).toEqual({ rating: 'up', comment: null })
    await waitFor(() => expect(screen.getByRole('button', { name: 'Good answer' }).getAttribute('aria-pressed')).toBe('true'))

    await userEvent.type(await screen.findByTestId('feedback-comment'), 'Clear and short{Enter}')
    expect(sent(fetch, 1)).toEqual({ rating: 'up', comment: 'Clear and short' })
    await waitFor(() => expect(screen.queryByTestId('feedback-form')).toBeNull())

    await userEvent.click(screen.getByRole('button', { name: 'Bad answer' }))
    await waitFor(() => expect(screen.getByRole('button', { name: 'Bad answer' }).getAttribute('aria-pressed')).toBe('true'))
    expect(sent(fetch, 2)).toEqual({ rating: 'down', comment: 'Clear and short' })
    await userEvent.click(screen.getByRole('button', { name: 'Bad answer' }))
    expect(sent(fetch, 3)).toEqual({ rating: null, comment: null })
    await waitFor(() => expect(screen.getByRole('button', { name: 'Bad answer' }).getAttribute('aria-pressed')).toBe('false'))
  })

  it('a refused rating goes back and says so', async () => {
    vi.stubGlobal('fetch', vi.fn(async () =>
      jsonResponse({ error: { code: 'message_not_found', message: 'No such message.' } }, 404)))
    render(<FeedbackButtons messageId="m3" />)
    await userEvent.click(screen.getByRole('button', { name: 'Good answer' }))
    expect((await screen.findByRole('alert')).textContent).toBe('Feedback not saved: No such message.')
    expect(screen.getByRole('button', { name: 'Good answer' }).getAttribute('aria-pressed')).toBe('false')
  })
})
