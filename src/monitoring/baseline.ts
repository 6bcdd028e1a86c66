import type { FittedTransform } from '../features/transform.js'
import type { ColumnarBatch } from '../features/transform.js'
import { OTHER_VALUES } from '../validation/distributions.js'

/**
 * What serving drift compares with, recorded in a model version's lineage (`lineage.monitoring`) when it is
 * trained: per input column the training distribution in the shape the validation distances take (numbers: counts
 * on bins cut at the training quantiles, for Jensen-Shannon; categories: value counts, for L-infinity), and the
 * distribution of the model's predictions on its holdout. Small (at most {@link maxCategories} values a column).
 */
export interface ServingBaseline {
  readonly format: 1
  readonly features: Record<string, ColumnBaseline>
  /** The holdout predictions on bins cut at their own quantiles; null when there were none. */
  readonly predictions: NumericBaseline | null
}

export interface NumericBaseline {
  readonly kind: 'numeric'
  /** Ascending inner cut points: bin i holds `cuts[i-1] < x <= cuts[i]` (the same rule as `quantileHistograms`). */
  readonly cuts: number[]
  readonly counts: number[]
  readonly rows: number
  /** Rows without a finite value. */
  readonly missing: number
}

export interface CategoricalBaseline {
  readonly kind: 'categorical'
  /** Value -> count; the values beyond the {@link maxCategories} most frequent are summed under `__other__`. */
  readonly counts: Record<string, number>
  readonly rows: number
  readonly missing: number
}

export type ColumnBaseline = NumericBaseline | CategoricalBaseline

/** Bins of numeric columns and predictions: as many as validation's drift check uses. */
export const baselineBins = 20
/** Most distinct values kept per categorical column (validation's `categoryCounts` keeps 1,000 too). */
export const maxCategories = 1000

/** The bin of `value` for `cuts`: the number of cut points below it. */
export function binOf(cuts: readonly number[], value: number): number {
  let lo = 0
  let hi = cuts.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (value > cuts[mid]!) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** A categorical value as serving and training both spell it. */
export function categoryKey(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return value.toISOString()
  // DuckDB values (decimals, timestamps) print as their SQL text; plain objects are not categories.
  const text =
    typeof (value as { toString?: unknown }).toString === 'function'
      ? (value as { toString: () => string }).toString()
      : ''
  return text === '[object Object]' ? undefined : text
}

/** A numeric value as a finite number, or undefined. */
export function numericValue(value: unknown): number | undefined {
  const x =
    typeof value === 'number'
      ? value
      : typeof value === 'bigint'
        ? Number(value)
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value)
          : Number.NaN
  return Number.isFinite(x) ? x : undefined
}

/** Counts on bins cut at the values' quantiles (1/bins, 2/bins, ...; repeated cuts merged). */
export function numericBaseline(values: ArrayLike<unknown>, length = values.length): NumericBaseline {
  const finite: number[] = []
  for (let i = 0; i < length; i++) {
    const x = numericValue(values[i])
    if (x !== undefined) finite.push(x)
  }
  const sorted = Float64Array.from(finite).sort()
  const n = sorted.length
  const cuts: number[] = []
  if (n > 0) {
    for (let k = 1; k < baselineBins; k++) {
      const cut = sorted[Math.max(0, Math.ceil((k / baselineBins) * n) - 1)]!
      if (cuts.at(-1) !== cut) cuts.push(cut)
    }
  }
  const counts = new Array<number>(cuts.length + 1).fill(0)
  for (const x of sorted) counts[binOf(cuts, x)]!++
  return { kind: 'numeric', cuts, counts, rows: length, missing: length - n }
}

/** Value counts, the tail beyond the {@link maxCategories} most frequent summed under `__other__`. */
export function categoricalBaseline(values: ArrayLike<unknown>, length = values.length): CategoricalBaseline {
  const counts = new Map<string, number>()
  let missing = 0
  for (let i = 0; i < length; i++) {
    const key = categoryKey(values[i])
    if (key === undefined) missing++
    else counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const kept = ranked.slice(0, maxCategories)
  const other = ranked.slice(maxCategories).reduce((sum, [, n]) => sum + n, 0)
  if (other > 0) kept.push([OTHER_VALUES, other + (counts.get(OTHER_VALUES) ?? 0)])
  // fromEntries defines own properties, so a value spelled "__proto__" stays a plain key.
  return { kind: 'categorical', counts: Object.fromEntries(kept), rows: length, missing }
}

/**
 * The serving baseline of a model: its numeric and categorical input columns on the training rows (text is not
 * compared), and its predictions on the holdout.
 */
export function servingBaseline(
  fitted: Pick<FittedTransform, 'features'>,
  trainRows: ColumnarBatch,
  holdoutPredictions: ArrayLike<number>,
): ServingBaseline {
  const features: Record<string, ColumnBaseline> = {}
  for (const feature of fitted.features) {
    const columns = feature.type === 'cross' ? feature.columns : [feature.name]
    for (const column of columns) {
      const values = trainRows.columns[column]
      if (values === undefined || Object.hasOwn(features, column)) continue
      if (feature.type === 'numeric') features[column] = numericBaseline(values, trainRows.length)
      else if (feature.type === 'categorical' || feature.type === 'cross')
        features[column] = categoricalBaseline(values, trainRows.length)
    }
  }
  return {
    format: 1,
    features,
    predictions: holdoutPredictions.length === 0 ? null : numericBaseline(holdoutPredictions),
  }
}

/** The serving baseline recorded in a version's lineage, or undefined (trained before monitoring existed). */
export function baselineOf(lineage: Record<string, unknown>): ServingBaseline | undefined {
  const value = lineage.monitoring as ServingBaseline | undefined
  return value !== undefined && value !== null && typeof value === 'object' && value.format === 1
    ? value
    : undefined
}
