import { FreshetError } from './errors.js'

const units: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
}

const pattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/

/** True when `text` is a duration such as `500ms`, `30s`, `5m`, `2h`, `7d`, `1w`. */
export function isDuration(text: string): boolean {
  return pattern.test(text.trim())
}

/**
 * Parses a duration such as `5m` or `7d` into milliseconds.
 * @throws FreshetError `USAGE` when the text is not a duration.
 */
export function parseDuration(text: string): number {
  const match = pattern.exec(text.trim())
  if (match === null) {
    throw new FreshetError('USAGE', `expected a duration like 30s, 5m, 2h or 7d, got ${JSON.stringify(text)}`)
  }
  return Number(match[1]) * (units[match[2] ?? 'ms'] ?? 1)
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `4m 05s`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const s = Math.round(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
}
