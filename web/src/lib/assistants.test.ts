import { describe, expect, it } from 'vitest'
import { bodyOf, checkAssistant, emptyAssistant, inkOn, validAvatar } from './assistants'

describe('assistants', () => {
  it('checks the form as the server would, field by field', () => {
    expect(checkAssistant({ ...emptyAssistant(), name: 'Tutor' })).toEqual({})
    const errors = checkAssistant({ ...emptyAssistant(), name: '  ', description: 'x'.repeat(501), avatar: 'abc',
      color: 'red', starters: ['y'.repeat(201)], visibility: 'groups', groups: [] })
    expect(Object.keys(errors).sort()).toEqual(['avatar', 'color', 'description', 'groups', 'name', 'starters'])
    // characters, not UTF-16 halves: 80 emoji are 80 characters
    expect(checkAssistant({ ...emptyAssistant(), name: '🦉'.repeat(80) }).name).toBeUndefined()
    expect(checkAssistant({ ...emptyAssistant(), name: '🦉'.repeat(81) }).name).toBe('At most 80 characters.')
  })

  it('takes one emoji or one or two letters as an avatar', () => {
    for (const ok of ['🦉', '👩‍💻', '🇵🇹', 'A', 'QA', 'é']) expect(validAvatar(ok), ok).toBe(true)
    for (const bad of ['', 'ABC', '🦉🦉', 'A!', 'A1', '<b>']) expect(validAvatar(bad), bad).toBe(false)
  })

  it('sends a tidy body: trimmed, no empty starters, an avatar, groups only when shared with groups', () => {
    const body = bodyOf({ ...emptyAssistant(), name: '  Math tutor ', starters: [' Explain ', '', '  '],
      groups: ['g1'], tools: ['search'], approval_tools: ['search', 'fetch'] })
    expect(body).toMatchObject({ name: 'Math tutor', starters: ['Explain'], avatar: 'M', groups: [],
      approval_tools: ['search'] })
    expect(bodyOf({ ...emptyAssistant(), name: 'x', visibility: 'groups', groups: ['g1'] }).groups).toEqual(['g1'])
  })

  it('writes on an avatar in the colour that reads better', () => {
    expect(inkOn('#4f46e5')).toBe('#ffffff')
    expect(inkOn('#fde047')).toBe('#000000')
  })
})
