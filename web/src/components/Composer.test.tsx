import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
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
    expect(onSend).toHaveBeenCalledWith('hello\nthere', [])
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

  it('attaches an image with the paperclip, previews it, and sends it with the text', async () => {
    const onSend = vi.fn()
    render(<Composer busy={false} onSend={onSend} onStop={() => {}} />)
    expect(screen.getByTestId('attach-button').getAttribute('aria-label')).toBe('Attach images or documents')
    await userEvent.upload(screen.getByTestId('file-input'), png('cat.png'))
    const previews = await screen.findByRole('list', { name: 'Attachments' })
    expect(within(previews).getByRole('img', { name: 'cat.png' }).getAttribute('src')).toMatch(/^data:image\/png;base64,/)
    await userEvent.type(screen.getByLabelText('Message'), 'what is this{Enter}')
    expect(onSend).toHaveBeenCalledOnce()
    const [text, files] = onSend.mock.calls[0]
    expect(text).toBe('what is this')
    expect(files).toEqual([{ type: 'file', mediaType: 'image/png', filename: 'cat.png', url: expect.stringMatching(/^data:image\/png;base64,/) }])
    expect(screen.queryByRole('list', { name: 'Attachments' })).toBeNull() // cleared once sent
  })

  it('a preview can be removed before sending; an image alone can be sent', async () => {
    const onSend = vi.fn()
    render(<Composer busy={false} onSend={onSend} onStop={() => {}} />)
    await userEvent.upload(screen.getByTestId('file-input'), [png('a.png'), png('b.png')])
    await userEvent.click(await screen.findByRole('button', { name: 'Remove a.png' }))
    expect(screen.queryByRole('img', { name: 'a.png' })).toBeNull()
    expect((screen.getByTestId('send-button') as HTMLButtonElement).disabled).toBe(false)
    await userEvent.click(screen.getByTestId('send-button'))
    expect(onSend.mock.calls[0][0]).toBe('')
    expect(onSend.mock.calls[0][1].map((f: { filename: string }) => f.filename)).toEqual(['b.png'])
  })

  it('takes pasted and dropped images; other files go to the documents', async () => {
    const onAttach = vi.fn()
    render(<Composer busy={false} onSend={() => {}} onStop={() => {}} onAttach={onAttach} />)
    fireEvent.paste(screen.getByLabelText('Message'), { clipboardData: { files: [png('pasted.png')] } })
    expect(await screen.findByRole('img', { name: 'pasted.png' })).toBeTruthy()
    const notes = new File(['# notes'], 'notes.md', { type: 'text/markdown' })
    fireEvent.drop(screen.getByTestId('message-input').closest('form')!, { dataTransfer: { files: [png('dropped.png'), notes] } })
    expect(await screen.findByRole('img', { name: 'dropped.png' })).toBeTruthy()
    expect(onAttach).toHaveBeenCalledWith([notes])
  })

  it('refuses images, saying why, when the model cannot read them', async () => {
    const onSend = vi.fn()
    const onAttach = vi.fn()
    render(<Composer busy={false} onSend={onSend} onStop={() => {}} onAttach={onAttach} imagesAllowed={false} />)
    const clip = screen.getByTestId('attach-button')
    expect(clip.getAttribute('aria-label')).toMatch(/can’t read images/)
    expect(clip.getAttribute('title')).toMatch(/can’t read images/)
    expect(screen.getByTestId('file-input').getAttribute('accept')).not.toContain('image/png')
    expect(screen.getByText(/drop files to attach \(this model can’t read images\)/)).toBeTruthy()
    expect(screen.queryByText(/paste or drop images/)).toBeNull()
    fireEvent.paste(screen.getByLabelText('Message'), { clipboardData: { files: [png('x.png')] } })
    expect((await screen.findByRole('alert')).textContent).toContain('This model can’t read images')
    expect(screen.queryByRole('list', { name: 'Attachments' })).toBeNull()
    expect(onAttach).not.toHaveBeenCalled()
    expect((screen.getByTestId('send-button') as HTMLButtonElement).disabled).toBe(true)
  })

  it('refuses an image over the size limit before reading it', async () => {
    render(<Composer busy={false} onSend={() => {}} onStop={() => {}} />)
    const big = new File([new Uint8Array(10_000_001)], 'huge.png', { type: 'image/png' })
    fireEvent.paste(screen.getByLabelText('Message'), { clipboardData: { files: [big] } })
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('“huge.png” is over 8 MB'))
  })
})

function png(name: string): File {
  // a 1x1 PNG
  const bytes = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='), (c) => c.charCodeAt(0))
  return new File([bytes], name, { type: 'image/png' })
}
