import { useEffect, useRef, type ReactNode } from 'react'

type Props = {
  title: string
  children: ReactNode
  confirmLabel: string
  onConfirm: () => void
  onCancel: () => void
  /** The confirm button waits (e.g. until the user has typed a confirmation). */
  confirmDisabled?: boolean
  /** Focus the confirm button on open (default); false leaves it to the content (an autoFocus input). */
  focusConfirm?: boolean
}

/** A modal confirmation on the native <dialog>: focus moves in and is trapped, Esc cancels. */
export function ConfirmDialog(props: Props) {
  const { title, children, confirmLabel, onConfirm, onCancel, confirmDisabled = false, focusConfirm = true } = props
  const ref = useRef<HTMLDialogElement>(null)
  const confirmRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    const opener = document.activeElement as HTMLElement | null
    if (typeof dialog.showModal === 'function') dialog.showModal()
    else dialog.setAttribute('open', '')
    if (focusConfirm) confirmRef.current?.focus()
    return () => {
      if (dialog.open && typeof dialog.close === 'function') dialog.close()
      opener?.focus?.()
    }
  }, []) // on open only
  return (
    <dialog
      ref={ref}
      role="alertdialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      data-testid="confirm-dialog"
      className="dialog"
      onCancel={(e) => {
        e.preventDefault()
        onCancel()
      }}
    >
      <h2 id="confirm-title" className="text-base font-semibold">
        {title}
      </h2>
      <div id="confirm-body" className="mt-2 text-sm text-muted">
        {children}
      </div>
      <div className="mt-5 flex justify-end gap-2">
        <button type="button" className="btn-secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" ref={confirmRef} data-testid="confirm-button" className="btn-danger"
          disabled={confirmDisabled} onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  )
}
