import { act, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ErrorNotice } from './ErrorNotice'

describe('ErrorNotice', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-01-01T10:00:00Z') }))
  afterEach(() => vi.useRealTimers())

  it('a 429 says when to try again and the tier, and enables retry when the time comes', () => {
    const onRetry = vi.fn()
    render(
      <ErrorNotice
        tier="tiny"
        onRetry={onRetry}
        onDismiss={() => {}}
        failure={{ kind: 'rate-limited', code: 'rate_limited', message: 'Too many', retryAt: Date.now() + 3_000, window: '3 requests a minute', requestId: 'r1' }}
      />,
    )
    const notice = screen.getByRole('alert')
    expect(notice.textContent).toContain('Your tier: tiny (3 requests a minute)')
    expect(notice.textContent).toContain('try again in 3 s')
    const retry = screen.getByTestId('retry-button') as HTMLButtonElement
    expect(retry.disabled).toBe(true)
    act(() => {
      vi.advanceTimersByTime(3_100)
    })
    expect(retry.disabled).toBe(false)
    fireEvent.click(retry)
    expect(onRetry).toHaveBeenCalledOnce()
  })

  it('a provider failure is friendly and offers a retry', () => {
    const onRetry = vi.fn()
    render(<ErrorNotice tier="free" onRetry={onRetry} onDismiss={() => {}} failure={{ kind: 'provider', message: 'upstream timed out' }} />)
    expect(screen.getByRole('alert').textContent).toContain("The model couldn't finish this answer.")
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }))
    expect(onRetry).toHaveBeenCalledOnce()
  })
})
