import type { UIMessage } from 'ai'
import { describe, expect, it } from 'vitest'
import { markStopped, unanswered } from './unanswered'

const question: UIMessage = { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'Why is the sky blue?' }] }
const answer = (parts: UIMessage['parts'], status?: string): UIMessage =>
  ({ id: 'a1', role: 'assistant', parts, metadata: status ? { status } : undefined })

describe('unanswered', () => {
  it('finds the question to ask again, and whether Stop came before its first token', () => {
    expect(unanswered([question, answer([{ type: 'step-start' }], 'aborted')])).toEqual({ question, stopped: true })
    expect(unanswered([question])).toEqual({ question, stopped: false })
    expect(unanswered([question, answer([], 'complete')])).toEqual({ question, stopped: false })
    expect(unanswered([question, answer([{ type: 'step-start' }, { type: 'text', text: 'Rayleigh' }], 'aborted')])).toBeNull()
    expect(unanswered([])).toBeNull()
  })

  it('a message that only attached a document asks nothing', () => {
    const attached: UIMessage = { id: 'u2', role: 'user', parts: [{ type: 'data-document', data: { documentId: 'd1' } }] }
    expect(unanswered([attached])).toBeNull()
    expect(unanswered([attached, answer([{ type: 'step-start' }], 'aborted')])).toBeNull()
  })
})

describe('markStopped', () => {
  it('marks the answer under way aborted, as the server stores it', () => {
    const stopped = markStopped([question, answer([{ type: 'step-start' }, { type: 'text', text: 'Ray' }], 'streaming')])
    expect(stopped.map((m) => [m.role, (m.metadata as { status?: string } | undefined)?.status ?? null])).toEqual([
      ['user', null], ['assistant', 'aborted']])
    expect(stopped[1].parts).toHaveLength(2)
  })

  it('adds an empty aborted answer when none had started', () => {
    const stopped = markStopped([question])
    expect(stopped).toHaveLength(2)
    expect(unanswered(stopped)).toEqual({ question, stopped: true })
  })

  it('still says stopped when the answer the SDK held back lands after the one Stop marked', () => {
    const stopped = [...markStopped([question]), answer([{ type: 'step-start' }], 'streaming')]
    expect(unanswered(stopped)).toEqual({ question, stopped: true })
  })
})
