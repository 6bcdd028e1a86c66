const numberFormat = new Intl.NumberFormat('en-US')

export const count = (n: number | null | undefined): string => (n === null || n === undefined || !Number.isFinite(n) ? '–' : numberFormat.format(n))

/** A metric value with 4 significant decimals, or a dash. */
export function metric(value: unknown, digits = 4): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–'
  if (Number.isInteger(value) && Math.abs(value) >= 1) return numberFormat.format(value)
  return value.toFixed(digits)
}

export function signed(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–'
  return `${value > 0 ? '+' : value < 0 ? '−' : '±'}${Math.abs(value).toFixed(digits)}`
}

/** `2024-05-01 12:30:05` in UTC, as the CLI prints times. */
export function time(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '–'
  return iso.slice(0, 19).replace('T', ' ')
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return 'never'
  const seconds = Math.round((now - Date.parse(iso)) / 1000)
  if (!Number.isFinite(seconds)) return '–'
  if (seconds < 60) return 'just now'
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'min'],
  ]
  for (const [size, unit] of units) if (seconds >= size) return `${Math.floor(seconds / size)} ${unit} ago`
  return 'just now'
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  return `${m} min ${Math.round(s - m * 60)} s`
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

/** Metrics where lower is better (as the server's gate says); for all others higher is better. */
export const lowerIsBetter = (name: string): boolean => name === 'logloss' || name === 'rmse' || name === 'mae'

/** The metric a pipeline's charts show when no run has named its gate metric. */
export const defaultMetric = (task: string): string => (task === 'binary' ? 'auc' : 'rmse')
