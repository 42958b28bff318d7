import { describe, expect, it } from 'vitest'
import { hasCode, hasMath, normaliseMath } from './markdown'

describe('normaliseMath', () => {
  it('turns LaTeX delimiters into $$', () => {
    expect(normaliseMath('Euler: \\(e^{i\\pi} + 1 = 0\\).')).toBe('Euler: $$e^{i\\pi} + 1 = 0$$.')
    expect(normaliseMath('\\[\nx^2\n\\]')).toBe('$$\nx^2\n$$')
  })
  it('leaves code alone', () => {
    const fenced = '```\nprint("\\(x\\)")\n```'
    expect(normaliseMath(fenced)).toBe(fenced)
    expect(normaliseMath('see `\\(x\\)` and \\(y\\)')).toBe('see `\\(x\\)` and $$y$$')
  })
  it('leaves plain text alone', () => {
    expect(normaliseMath('costs $5 and $10')).toBe('costs $5 and $10')
  })
})

it('detects what needs the heavy renderers', () => {
  expect(hasMath('a $$x$$ b')).toBe(true)
  expect(hasMath('costs $5')).toBe(false)
  expect(hasCode('text\n```py\nx\n```')).toBe(true)
  expect(hasCode('inline `x` only')).toBe(false)
})
