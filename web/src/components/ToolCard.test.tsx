import { fireEvent, render, screen } from '@testing-library/react'
import type { UIMessage } from 'ai'
import { describe, expect, it } from 'vitest'
import { argumentsPreview, ToolCard } from './ToolCard'

type Part = UIMessage['parts'][number]

describe('ToolCard', () => {
  it('shows name, arguments and the stored duration; opens to the result', () => {
    const part = {
      type: 'tool-calculator', toolCallId: 'c1', state: 'output-available',
      input: { expression: '6 * 7' }, output: { result: '42' }, durationMs: 12.3,
    } as unknown as Part
    const { container } = render(<ToolCard part={part} />)
    const card = screen.getByTestId('tool-card')
    expect(card.getAttribute('data-tool')).toBe('calculator')
    expect(card.textContent).toContain('expression: "6 * 7"')
    expect(card.textContent).toContain('12 ms')
    const details = container.querySelector('details')!
    expect(details.open).toBe(false)
    fireEvent.click(container.querySelector('summary')!)
    expect(details.open).toBe(true)
    expect(screen.getByTestId('tool-output').textContent).toContain('"result": "42"')
  })

  it('a live call shows the duration the stream carries; under a millisecond is not "0 ms"', () => {
    const live = {
      type: 'tool-calculator', toolCallId: 'c4', state: 'output-available', input: {}, output: {},
      toolMetadata: { durationMs: 9.4 },
    } as unknown as Part
    const { unmount } = render(<ToolCard part={live} />)
    expect(screen.getByTestId('tool-card').querySelector('.tool-meta')?.textContent).toBe('9 ms')
    unmount()
    const quick = { ...live, toolMetadata: undefined, durationMs: 0.1 } as unknown as Part
    render(<ToolCard part={quick} />)
    expect(screen.getByTestId('tool-card').querySelector('.tool-meta')?.textContent).toBe('< 1 ms')
  })

  it('shows an error', () => {
    const part = {
      type: 'tool-current_time', toolCallId: 'c2', state: 'output-error', input: { zone: 'Mars/Base' },
      errorText: 'Unknown time zone', durationMs: 1,
    } as unknown as Part
    render(<ToolCard part={part} />)
    expect(screen.getByTestId('tool-card').textContent).toContain('failed')
    expect(screen.getByTestId('tool-error').textContent).toBe('Unknown time zone')
  })

  it('shows a running call', () => {
    const part = { type: 'tool-calculator', toolCallId: 'c3', state: 'input-available', input: {} } as unknown as Part
    render(<ToolCard part={part} />)
    expect(screen.getByTestId('tool-card').textContent).toContain('running')
  })

  it('keeps the argument preview short', () => {
    expect(argumentsPreview({ q: 'x'.repeat(200) }).length).toBeLessThanOrEqual(60)
    expect(argumentsPreview(undefined)).toBe('')
  })
})
