/**
 * Markdown helpers that need no heavy library.
 *
 * Math: `$$…$$` (inline or as a block) is math. A single `$` is not (prices like "$5 and $10" stay
 * text). LaTeX's `\(…\)` and `\[…\]`, which models often write, become `$$…$$`. Code (fenced or
 * inline) is left alone.
 */
export function normaliseMath(text: string): string {
  if (!text.includes('\\(') && !text.includes('\\[')) return text
  const out: string[] = []
  const lines = text.split('\n')
  let fence: string | null = null
  for (const line of lines) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)
    if (fence) {
      if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length) fence = null
      out.push(line)
      continue
    }
    if (marker) {
      fence = marker[1]
      out.push(line)
      continue
    }
    const bare = line.trim()
    if (bare === '\\[' || bare === '\\]') {
      out.push(line.replace(bare, '$$$$'))
      continue
    }
    out.push(replaceOutsideInlineCode(line))
  }
  return out.join('\n')
}

function replaceOutsideInlineCode(line: string): string {
  return line
    .split(/(`+[^`]*`+)/)
    .map((piece, i) =>
      i % 2 === 1
        ? piece
        : piece
            .replace(/\\\[(.+?)\\\]/g, (_, body: string) => `$$${body}$$`)
            .replace(/\\\((.+?)\\\)/g, (_, body: string) => `$$${body}$$`),
    )
    .join('')
}

/** Whether the text needs the math renderer (KaTeX, loaded on demand). */
export function hasMath(text: string): boolean {
  return text.includes('$$') || text.includes('\\(') || text.includes('\\[')
}

/** Whether the text has a fenced code block (syntax highlighting, loaded on demand). */
export function hasCode(text: string): boolean {
  return /(^|\n)\s*(```|~~~)/.test(text)
}
