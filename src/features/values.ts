/**
 * How raw cell values become numbers, categories and text. Training and serving both go through these functions,
 * so a value means the same thing on both paths.
 */

/** A value a column may hold. Anything else is treated like a string of its `String()` form. */
export type CellValue = string | number | boolean | bigint | Date | null | undefined

/**
 * The number a cell holds, or `NaN` when it is missing: `null`, `undefined`, `NaN`, ±Infinity, an invalid Date,
 * or a string that is empty or not a finite decimal number. Booleans are 1/0, Dates are epoch milliseconds,
 * bigints are converted with `Number()`, numeric strings (`" 3.5 "`) are parsed.
 */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN
  if (value === null || value === undefined) return Number.NaN
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'bigint') return Number(value)
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'string') {
    if (value.trim() === '') return Number.NaN
    const parsed = Number(value)
    return Number.isFinite(parsed) ? parsed : Number.NaN
  }
  return Number.NaN
}

/**
 * The category a cell holds, or `null` when it is missing (`null`, `undefined`, `NaN`, an invalid Date).
 * Numbers use `String()` (`1` and `1.0` are the same category, `-0` is `"0"`), Dates their ISO form, other
 * objects their JSON text.
 */
export function toCategory(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return null
  if (typeof value === 'number') return Number.isNaN(value) ? null : String(value)
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return stringifyOther(value)
}

function stringifyOther(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null
  } catch {
    return null
  }
}
