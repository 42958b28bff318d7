import { useEffect, useRef } from 'react'
import { createPortal } from 'react-dom'

type Props = {
  src: string
  alt: string
  onClose: () => void
}

/**
 * An image shown large over the page: Esc, the close button or a click beside the image closes it. Rendered
 * into <body>: the message list's containment would otherwise hold it inside the message.
 */
export function Lightbox({ src, alt, onClose }: Props) {
  const closeRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null
    closeRef.current?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.preventDefault() // Esc closes this, and does not also stop the answer
        onClose()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => {
      window.removeEventListener('keydown', onKey)
      opener?.focus?.()
    }
  }, [onClose])
  return createPortal(
    <div className="lightbox" role="dialog" aria-modal="true" aria-label={alt} data-testid="lightbox"
      onClick={(e) => {
        if (e.target === e.currentTarget) onClose()
      }}>
      <img src={src} alt={alt} className="lightbox-image" />
      <button ref={closeRef} type="button" className="lightbox-close" aria-label="Close image" title="Close (Esc)"
        onClick={onClose}>
        <svg aria-hidden="true" viewBox="0 0 20 20" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="2"><path d="M5 5l10 10M15 5L5 15" /></svg>
      </button>
    </div>,
    document.body,
  )
}
