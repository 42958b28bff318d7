import { describe, expect, it } from 'vitest'
import type { Thread } from './api'
import { emptyThreads, filterThreads, threadsReducer, titleFrom } from './threads'

const t = (id: string, title: string, at: string): Thread => ({ id, title, created_at: at, updated_at: at })

describe('threadsReducer', () => {
  it('loads pages newest first without duplicates', () => {
    let state = threadsReducer(emptyThreads, {
      type: 'first-page',
      page: { threads: [t('c', 'C', '2026-01-03'), t('b', 'B', '2026-01-02')], next_cursor: 'x' },
    })
    state = threadsReducer(state, { type: 'next-page', page: { threads: [t('b', 'B', '2026-01-02'), t('a', 'A', '2026-01-01')], next_cursor: null } })
    expect(state.threads.map((x) => x.id)).toEqual(['c', 'b', 'a'])
    expect(state.nextCursor).toBeNull()
  })

  it('a refreshed first page keeps the older pages already loaded', () => {
    let state = threadsReducer(emptyThreads, { type: 'first-page', page: { threads: [t('b', 'B', '2026-01-02')], next_cursor: 'x' } })
    state = threadsReducer(state, { type: 'next-page', page: { threads: [t('a', 'A', '2026-01-01')], next_cursor: null } })
    state = threadsReducer(state, {
      type: 'first-page',
      page: { threads: [t('n', 'New', '2026-01-04'), t('b', 'B renamed', '2026-01-02')], next_cursor: 'y' },
    })
    expect(state.threads.map((x) => x.title)).toEqual(['New', 'B renamed', 'A'])
  })

  it('touch moves a thread to the top, or adds a new one with its title', () => {
    let state = threadsReducer(emptyThreads, {
      type: 'first-page', page: { threads: [t('b', 'B', '2026-01-02'), t('a', 'A', '2026-01-01')], next_cursor: null },
    })
    state = threadsReducer(state, { type: 'touch', id: 'a', title: 'ignored', at: '2026-01-05' })
    expect(state.threads.map((x) => x.title)).toEqual(['A', 'B'])
    state = threadsReducer(state, { type: 'touch', id: 'z', title: 'Hello', at: '2026-01-06' })
    expect(state.threads[0]).toMatchObject({ id: 'z', title: 'Hello' })
  })

  it('rename, remove and restore', () => {
    let state = threadsReducer(emptyThreads, {
      type: 'first-page', page: { threads: [t('b', 'B', '2026-01-02'), t('a', 'A', '2026-01-01')], next_cursor: null },
    })
    state = threadsReducer(state, { type: 'rename', id: 'a', title: 'Alpha' })
    expect(state.threads[1].title).toBe('Alpha')
    const removed = state.threads[0]
    state = threadsReducer(state, { type: 'remove', id: 'b' })
    expect(state.threads.map((x) => x.id)).toEqual(['a'])
    state = threadsReducer(state, { type: 'restore', thread: removed, index: 0 })
    expect(state.threads.map((x) => x.id)).toEqual(['b', 'a'])
  })
})

describe('filterThreads', () => {
  const threads = [t('1', 'Trip to Lisbon', 'x'), t('2', 'Python asyncio question', 'x'), t('3', 'lisbon hotels python', 'x')]
  it('matches every word, in any case', () => {
    expect(filterThreads(threads, 'lisbon').map((x) => x.id)).toEqual(['1', '3'])
    expect(filterThreads(threads, 'PYTHON lisbon').map((x) => x.id)).toEqual(['3'])
    expect(filterThreads(threads, '  ')).toHaveLength(3)
  })
})

it('titles are the first 80 characters, as the server makes them', () => {
  expect(titleFrom('x'.repeat(100))).toHaveLength(80)
})
