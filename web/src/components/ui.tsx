import { useEffect, useId, useRef, useState, type ReactNode } from 'react'
import { ApiError } from '../api'
import { readOnlyReason, useAuth } from '../auth'

const tones: Record<string, string> = {
  succeeded: 'good',
  accepted: 'good',
  released: 'good',
  registered: 'good',
  passed: 'good',
  production: 'good',
  running: 'busy',
  queued: 'busy',
  pending: 'quiet',
  skipped: 'quiet',
  cancelled: 'quiet',
  discarded: 'quiet',
  failed: 'bad',
  rejected: 'bad',
  quarantined: 'warn',
  blocking: 'bad',
  warning: 'warn',
}

/** A state shown as a word with a colour; the word alone carries the meaning. */
export function Badge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge badge-${tones[value] ?? 'quiet'}`}>{label ?? value}</span>
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  )
}

export function ErrorNotice({ error, title }: { error: ApiError | Error; title?: string }) {
  const hint = error instanceof ApiError ? error.hint : undefined
  return (
    <div className="notice notice-bad" role="alert">
      <strong>{title ?? 'Something went wrong'}</strong>
      <p>{error.message}</p>
      {hint === undefined ? null : <p className="muted">{hint}</p>}
    </div>
  )
}

export function Section({ title, actions, children, id }: { title: string; actions?: ReactNode; children: ReactNode; id?: string }) {
  const generated = useId()
  const headingId = id ?? generated
  return (
    <section className="card" aria-labelledby={headingId}>
      <header className="card-head">
        <h2 id={headingId}>{title}</h2>
        {actions === undefined ? null : <div className="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  )
}

export function Facts({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  )
}

/**
 * A button that changes something on the server. Without a token it stays visible but disabled, and says why
 * (read by screen readers through aria-describedby).
 */
export function ChangeButton({ children, onClick, busy = false, tone = 'primary', label }: { children: ReactNode; onClick: () => void; busy?: boolean; tone?: 'primary' | 'danger' | 'plain'; label?: string }) {
  const { token } = useAuth()
  const reasonId = useId()
  const readOnly = token === null
  return (
    <span className="change">
      <button type="button" className={`button button-${tone}`} onClick={onClick} disabled={readOnly || busy} aria-describedby={readOnly ? reasonId : undefined} aria-label={label}>
        {children}
      </button>
      {readOnly ? (
        <span id={reasonId} className="change-why">
          {readOnlyReason}
        </span>
      ) : null}
    </span>
  )
}

export interface ReasonDialogProps {
  title: string
  children: ReactNode
  confirmLabel: string
  tone?: 'primary' | 'danger'
  /** Does the change; a rejection is shown in the dialog, which stays open. */
  onConfirm: (reason: string) => Promise<void>
  onClose: () => void
}

/** A modal asking for confirmation and a required reason (recorded in the audit trail). */
export function ReasonDialog({ title, children, confirmLabel, tone = 'primary', onConfirm, onClose }: ReasonDialogProps) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const reasonId = useId()
  const [reason, setReason] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<Error | undefined>()
  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
    return () => dialog?.close()
  }, [])
  const submit = () => {
    if (reason.trim() === '') {
      setError(new Error('Say why: the reason is recorded with the change.'))
      return
    }
    setBusy(true)
    setError(undefined)
    onConfirm(reason.trim()).then(
      () => onClose(),
      (e: unknown) => {
        setBusy(false)
        setError(e instanceof Error ? e : new Error(String(e)))
      },
    )
  }
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault()
        if (!busy) onClose()
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault()
          submit()
        }}
      >
        <h2 id={titleId}>{title}</h2>
        <div className="dialog-body">{children}</div>
        <label htmlFor={reasonId}>Reason (required, recorded in the history)</label>
        <textarea id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} rows={3} autoFocus />
        {error === undefined ? null : <ErrorNotice error={error} title="Not done" />}
        <div className="dialog-actions">
          <button type="button" className="button button-plain" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className={`button button-${tone}`} disabled={busy}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  )
}
