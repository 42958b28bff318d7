import { fireEvent, render, screen } from '@testing-library/react'
import type { UIMessage } from 'ai'
import { describe, expect, it, vi } from 'vitest'
import { ApprovalContext, openApprovals } from '../lib/approval'
import { ToolCard } from './ToolCard'

type Part = UIMessage['parts'][number]

const asked = {
  type: 'tool-send_note', toolCallId: 'c1', state: 'approval-requested', input: { who: 'Ann' },
  approval: { id: 'apr_1' },
} as unknown as Part

describe('tool approval', () => {
  it('approves with the approval id (no reason)', () => {
    const respond = vi.fn()
    render(<ApprovalContext.Provider value={{ respond, open: new Set(['apr_1']) }}><ToolCard part={asked} /></ApprovalContext.Provider>)
    expect(screen.getByTestId('tool-card').querySelector('.tool-meta')?.textContent).toBe('needs your approval')
    fireEvent.change(screen.getByLabelText(/Reason/), { target: { value: 'ignored' } })
    fireEvent.click(screen.getByRole('button', { name: 'Approve' }))
    expect(respond).toHaveBeenCalledWith({ id: 'apr_1', approved: true })
    expect(screen.getByRole('button', { name: 'Deny' })).toHaveProperty('disabled', true)
  })

  it('denies with the reason typed', () => {
    const respond = vi.fn()
    render(<ApprovalContext.Provider value={{ respond, open: new Set(['apr_1']) }}><ToolCard part={asked} /></ApprovalContext.Provider>)
    fireEvent.change(screen.getByLabelText(/Reason/), { target: { value: '  not now ' } })
    fireEvent.click(screen.getByRole('button', { name: 'Deny' }))
    expect(respond).toHaveBeenCalledWith({ id: 'apr_1', approved: false, reason: 'not now' })
  })

  it('offers answers only for the last answer: an earlier one the chat went past is moot', () => {
    const answer = { id: 'a1', role: 'assistant', parts: [asked] } as UIMessage
    const next = { id: 'u2', role: 'user', parts: [{ type: 'text', text: 'never mind' }] } as UIMessage
    expect([...openApprovals([answer])]).toEqual(['apr_1'])
    expect(openApprovals([answer, next]).size).toBe(0)
    render(<ApprovalContext.Provider value={{ respond: vi.fn(), open: new Set() }}><ToolCard part={asked} /></ApprovalContext.Provider>)
    expect(screen.queryByRole('button', { name: 'Approve' })).toBeNull()
    expect(screen.getByTestId('approval-moot').textContent).toContain('went on without send_note')
  })

  it('shows a denied call with its reason, and an expired one', () => {
    const denied = { ...asked, state: 'output-denied', approval: { id: 'apr_1', approved: false, reason: 'no' } } as Part
    const { unmount } = render(<ToolCard part={denied} />)
    expect(screen.getByTestId('tool-card').querySelector('.tool-meta')?.textContent).toBe('denied')
    expect(screen.getByTestId('tool-denied').textContent).toContain('You denied this call: no.')
    expect(screen.queryByTestId('approval')).toBeNull()
    unmount()
    const expired = { ...asked, state: 'output-error', approval: undefined,
      errorText: 'Approval expired: the answer came too late.' } as unknown as Part
    render(<ToolCard part={expired} />)
    expect(screen.getByTestId('tool-card').querySelector('.tool-meta')?.textContent).toBe('approval expired')
  })
})
