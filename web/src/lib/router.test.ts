import { act, renderHook } from '@testing-library/react'
import { beforeEach, describe, expect, it } from 'vitest'
import { navigate } from './nav'
import { chatIdFromPath, routeFromPath, sharedTokenFromPath, useRouter } from './router'

describe('routeFromPath', () => {
  it('reads the page from the address', () => {
    expect(routeFromPath('/documents')).toEqual({ kind: 'documents' })
    expect(routeFromPath('/account')).toEqual({ kind: 'account' })
    expect(routeFromPath('/d/doc_1', '#page-3')).toEqual({ kind: 'document', id: 'doc_1', hash: '#page-3' })
    expect(routeFromPath('/t/abc')).toEqual({ kind: 'chat' })
    expect(routeFromPath('/')).toEqual({ kind: 'chat' })
    // anything unknown is the chat, as the server serves the app for every path
    expect(routeFromPath('/d/has/slash')).toEqual({ kind: 'chat' })
  })

  it('names a chat only at /t/{id}', () => {
    expect(chatIdFromPath('/t/abc-1')).toBe('abc-1')
    expect(chatIdFromPath('/t/')).toBeNull()
    expect(chatIdFromPath('/documents')).toBeNull()
  })
})

/** Back, as the browser does it: the address changes, then popstate. */
async function goBack() {
  await act(async () => {
    const back = new Promise((resolve) => window.addEventListener('popstate', resolve, { once: true }))
    window.history.back()
    await back
  })
}

describe('useRouter', () => {
  beforeEach(() => window.history.replaceState(null, '', '/'))

  it('at / starts a new chat and puts its id in the address (a reload keeps it)', () => {
    const { result } = renderHook(() => useRouter())
    const { chat, route } = result.current
    expect(route).toEqual({ kind: 'chat' })
    expect(chat?.fresh).toBe(true)
    expect(window.location.pathname).toBe(`/t/${chat!.id}`)
  })

  it('opens the chat a link names, to load', () => {
    window.history.replaceState(null, '', '/t/linked')
    const { result } = renderHook(() => useRouter())
    expect(result.current.chat).toEqual({ id: 'linked', fresh: false })
  })

  it('opens no chat for another page until one is asked for', () => {
    window.history.replaceState(null, '', '/documents')
    const { result } = renderHook(() => useRouter())
    expect(result.current).toMatchObject({ route: { kind: 'documents' }, chat: null })
    act(() => result.current.openChat('t2'))
    expect(result.current).toMatchObject({ route: { kind: 'chat' }, chat: { id: 't2', fresh: false } })
    expect(window.location.pathname).toBe('/t/t2')
  })

  it('keeps the chat open while a page shows, and Back returns to it as it was', async () => {
    window.history.replaceState(null, '', '/t/one')
    const { result } = renderHook(() => useRouter())
    const chat = result.current.chat
    act(() => navigate('/d/doc1'))
    expect(result.current.route).toEqual({ kind: 'document', id: 'doc1', hash: '' })
    expect(result.current.chat).toBe(chat)
    await goBack()
    expect(result.current.route).toEqual({ kind: 'chat' })
    expect(result.current.chat).toBe(chat) // the same object: not reloaded
  })

  it('a new chat gets a new id and a history entry: Back returns to the one before', async () => {
    window.history.replaceState(null, '', '/t/one')
    const { result } = renderHook(() => useRouter())
    act(() => result.current.newChat())
    expect(result.current.chat).toMatchObject({ fresh: true })
    expect(result.current.chat!.id).not.toBe('one')
    expect(window.location.pathname).toBe(`/t/${result.current.chat!.id}`)
    await goBack()
    expect(result.current.chat).toEqual({ id: 'one', fresh: false })
  })
})

describe('sharedTokenFromPath', () => {
  it('names the token of a shared chat, and nothing else', () => {
    expect(sharedTokenFromPath('/s/AbC-12_xyz')).toBe('AbC-12_xyz')
    expect(sharedTokenFromPath('/s/')).toBeNull()
    expect(sharedTokenFromPath('/s/a/b')).toBeNull()
    expect(sharedTokenFromPath('/t/abc')).toBeNull()
  })
})

describe('assistants', () => {
  beforeEach(() => window.history.replaceState(null, '', '/'))

  it('reads the gallery and the editor from the address', () => {
    expect(routeFromPath('/assistants')).toEqual({ kind: 'assistants' })
    expect(routeFromPath('/assistants/new')).toEqual({ kind: 'assistant', id: null })
    expect(routeFromPath('/assistants/a_1')).toEqual({ kind: 'assistant', id: 'a_1' })
  })

  it('a new chat with an assistant names it in the address, so a reload keeps it', () => {
    const { result } = renderHook(() => useRouter())
    act(() => result.current.newChat('asst-1'))
    const { chat } = result.current
    expect(chat).toMatchObject({ fresh: true, assistant: 'asst-1' })
    expect(window.location.pathname).toBe(`/t/${chat!.id}`)
    expect(window.location.search).toBe('?assistant=asst-1')
    // reloaded: the same chat, with the same assistant
    const reloaded = renderHook(() => useRouter())
    expect(reloaded.result.current.chat).toEqual({ id: chat!.id, fresh: false, assistant: 'asst-1' })
  })
})
