import { render, screen, waitFor } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { Markdown } from './Markdown'

describe('Markdown', () => {
  it('renders GFM tables, lists and emphasis', () => {
    const { container } = render(<Markdown text={'**bold** and *it*\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two'} />)
    expect(container.querySelector('strong')?.textContent).toBe('bold')
    expect(container.querySelectorAll('table td')).toHaveLength(2)
    expect(container.querySelectorAll('li')).toHaveLength(2)
  })

  it('never injects raw HTML', () => {
    const { container } = render(
      <Markdown text={'<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> <b>not bold</b>'} />,
    )
    expect(container.querySelector('img')).toBeNull()
    expect(container.querySelector('script')).toBeNull()
    expect(container.querySelector('b')).toBeNull()
    expect((window as { __pwned?: number }).__pwned).toBeUndefined()
  })

  it('drops javascript: links and opens others safely', () => {
    const { container } = render(<Markdown text={'[bad](javascript:alert(1)) [good](https://example.com)'} />)
    const links = [...container.querySelectorAll('a')]
    expect(links.some((a) => a.getAttribute('href')?.startsWith('javascript'))).toBe(false)
    const good = links.find((a) => a.textContent === 'good')
    expect(good?.getAttribute('rel')).toContain('noopener')
    expect(good?.getAttribute('target')).toBe('_blank')
  })

  it('shows code blocks with a language label and a copy button, then highlights them', async () => {
    const { container } = render(<Markdown text={'```python\ndef f(x):\n    return x\n```'} />)
    expect(screen.getByTestId('code-block').textContent).toContain('python')
    expect(screen.getByRole('button', { name: 'Copy code' })).toBeTruthy()
    await waitFor(() => expect(container.querySelector('.hljs-keyword')).not.toBeNull())
  })

  it('renders $$ math with KaTeX once it has loaded, and leaves prices alone', async () => {
    const { container } = render(<Markdown text={'Price $5 or $10; area $$\\pi r^2$$'} />)
    await waitFor(() => expect(container.querySelector('.katex')).not.toBeNull())
    expect(container.textContent).toContain('Price $5 or $10')
  })
})
