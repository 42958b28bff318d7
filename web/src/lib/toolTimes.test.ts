import { expect, it } from 'vitest'
import { liveDuration, noteChunk } from './toolTimes'

it('times a tool call from complete arguments to its result', () => {
  noteChunk({ type: 'tool-input-start', toolCallId: 'x1', toolName: 'calculator' }, 100)
  noteChunk({ type: 'tool-input-available', toolCallId: 'x1', toolName: 'calculator', input: {} }, 150)
  expect(liveDuration('x1')).toBeNull()
  noteChunk({ type: 'tool-output-available', toolCallId: 'x1', output: 1 }, 162)
  expect(liveDuration('x1')).toBe(12)
  noteChunk({ type: 'tool-output-available', toolCallId: 'x1', output: 1 }, 500)
  expect(liveDuration('x1')).toBe(12)
})

it('an output never seen starting has no duration', () => {
  noteChunk({ type: 'tool-output-error', toolCallId: 'x2', errorText: 'boom' }, 10)
  expect(liveDuration('x2')).toBeNull()
})
