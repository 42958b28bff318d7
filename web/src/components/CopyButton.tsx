import { useEffect, useRef, useState } from 'react'
import { copyText } from '../lib/clipboard'

type Props = {
  getText: () => string
  label: string
  className?: string
  testId?: string
}

/** A small button that copies, then says so for a moment (announced to screen readers too). */
export function CopyButton({ getText, label, className = '', testId }: Props) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle')
  const timer = useRef<number | undefined>(undefined)
  useEffect(() => () => window.clearTimeout(timer.current), [])
  return (
    <button
      type="button"
      data-testid={testId}
      aria-label={state === 'copied' ? 'Copied' : label}
      title={label}
      onClick={async () => {
        const ok = await copyText(getText())
        setState(ok ? 'copied' : 'failed')
        window.clearTimeout(timer.current)
        timer.current = window.setTimeout(() => setState('idle'), 1500)
      }}
      className={'icon-button ' + className}
    >
      {state === 'copied' ? <CheckIcon /> : <CopyIcon />}
      <span className="sr-only" aria-live="polite">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : ''}
      </span>
    </button>
  )
}

export function CopyIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.6">
      <rect x="7" y="7" width="10" height="10" rx="2" />
      <path d="M13 4.5V4a1.5 1.5 0 0 0-1.5-1.5h-7A1.5 1.5 0 0 0 3 4v7a1.5 1.5 0 0 0 1.5 1.5H5" />
    </svg>
  )
}

export function CheckIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 20 20" width="16" height="16" fill="none" stroke="currentColor" strokeWidth="1.8">
      <path d="m4 10.5 4 4 8-9" />
    </svg>
  )
}
