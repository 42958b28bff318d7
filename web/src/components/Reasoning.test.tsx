import { render, screen } from '@testing-library/react'
import type { ReasoningUIPart, UIMessage } from 'ai'
import { describe, expect, it } from 'vitest'
import { Message } from './Message'
import { reasoningLabel } from './Reasoning'

function answer(reasoning: ReasoningUIPart): UIMessage {
  return { id: 'r1', role: 'assistant', parts: [reasoning, { type: 'text', text: 'It is 4.' }] }
}

describe('Reasoning', () => {
  it('is folded under "Thought for N s" once done, and opens to the thoughts', () => {
    const part: ReasoningUIPart = { type: 'reasoning', text: 'Two and two.', state: 'done',
      providerMetadata: { parlor: { durationMs: 4321 } } }
    render(<Message message={answer(part)} streaming={false} />)
    const folded = screen.getByTestId('reasoning') as HTMLDetailsElement
    expect(folded.open).toBe(false)
    expect(folded.querySelector('summary')?.textContent).toBe('Thought for 4 s')
    expect(folded.textContent).toContain('Two and two.')
    folded.querySelector('summary')?.click()
    expect(folded.open).toBe(true)
  })

  it('says "Thinking…" while the thoughts stream', () => {
    const part: ReasoningUIPart = { type: 'reasoning', text: 'Two and', state: 'streaming' }
    render(<Message message={answer(part)} streaming />)
    expect(screen.getByTestId('reasoning').querySelector('summary')?.textContent).toBe('Thinking…')
  })

  it('labels seconds, minutes, a blink, and reasoning stored before it was timed', () => {
    const timed = (ms: number): ReasoningUIPart =>
      ({ type: 'reasoning', text: '', state: 'done', providerMetadata: { parlor: { durationMs: ms } } })
    expect(reasoningLabel(timed(65_400))).toBe('Thought for 1 min 5 s')
    expect(reasoningLabel(timed(120))).toBe('Thought for 1 s')
    expect(reasoningLabel({ type: 'reasoning', text: 'old' })).toBe('Reasoning')
  })
})
