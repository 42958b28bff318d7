import { fireEvent, render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'
import { Composer } from './Composer'

describe('Composer', () => {
  it('Enter sends, Shift+Enter adds a line', async () => {
    const onSend = vi.fn()
    render(<Composer busy={false} onSend={onSend} onStop={() => {}} />)
    const box = screen.getByLabelText('Message') as HTMLTextAreaElement
    await userEvent.type(box, 'hello{Shift>}{Enter}{/Shift}there')
    expect(onSend).not.toHaveBeenCalled()
    expect(box.value).toBe('hello\nthere')
    await userEvent.type(box, '{Enter}')
    expect(onSend).toHaveBeenCalledWith('hello\nthere')
    expect(box.value).toBe('')
  })

  it('shows Stop while busy, in the same place as Send', () => {
    const onStop = vi.fn()
    render(<Composer busy onSend={() => {}} onStop={onStop} />)
    expect(screen.queryByTestId('send-button')).toBeNull()
    fireEvent.click(screen.getByRole('button', { name: 'Stop generating' }))
    expect(onStop).toHaveBeenCalledOnce()
  })

  it('does not send blank messages', async () => {
    const onSend = vi.fn()
    render(<Composer busy={false} onSend={onSend} onStop={() => {}} />)
    await userEvent.type(screen.getByLabelText('Message'), '   {Enter}')
    expect(onSend).not.toHaveBeenCalled()
  })
})
