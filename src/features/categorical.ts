import type { FeatureSpec } from '../config/schema.js'
import { reservedTokens, type SlotHasher } from './hashing.js'
import type { CsrBuilder } from './sparse.js'
import { toCategory } from './values.js'

type CategoricalSpec = Extract<FeatureSpec, { type: 'categorical' }>

/** How many of the most frequent values the artifact keeps for people and drift checks. */
export const TOP_VALUES = 20

/**
 * A fitted categorical feature. Each value is one-hot in its own hashed slot; a missing value has its own slot.
 * With `minCount > 1`, values seen fewer than `minCount` times in training (and values never seen) share one
 * "rare" slot, so `kept` lists the values that keep their own slot.
 */
export interface FittedCategorical {
  name: string
  type: 'categorical'
  minCount: number
  count: number
  missingCount: number
  distinct: number
  /** The most frequent values with their counts, most frequent first (ties by value). */
  top: Array<[string, number]>
  /** Values with their own slot when `minCount > 1`, sorted; null when every value has its own slot. */
  kept: string[] | null
}

/** Fits a categorical feature: value counts, top values and, with `minCount > 1`, the kept values. */
export function fitCategorical(
  name: string,
  spec: CategoricalSpec,
  column: ArrayLike<unknown>,
  length: number,
): FittedCategorical {
  const counts = new Map<string, number>()
  let missingCount = 0
  for (let r = 0; r < length; r++) {
    const value = toCategory(column[r])
    if (value === null) missingCount++
    else counts.set(value, (counts.get(value) ?? 0) + 1)
  }
  const minCount = spec.minCount ?? 1
  const entries = [...counts.entries()].sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0]))
  const kept =
    minCount > 1
      ? entries
          .filter(([, c]) => c >= minCount)
          .map(([v]) => v)
          .sort(compareStrings)
      : null
  return {
    name,
    type: 'categorical',
    minCount,
    count: length - missingCount,
    missingCount,
    distinct: counts.size,
    top: entries.slice(0, TOP_VALUES),
    kept,
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

const keptSets = new WeakMap<FittedCategorical, Set<string>>()

/** Returns the per-row emitter of a categorical feature over `column`. */
export function categoricalEmitter(
  fitted: FittedCategorical,
  column: ArrayLike<unknown>,
  hasher: SlotHasher,
  out: CsrBuilder,
): (row: number) => void {
  const prefix = hasher.prefix(fitted.name)
  const missingSlot = hasher.slot(prefix, reservedTokens.missing)
  const rareSlot = hasher.slot(prefix, reservedTokens.rare)
  let kept: Set<string> | null = null
  if (fitted.kept !== null) {
    kept = keptSets.get(fitted) ?? new Set(fitted.kept)
    keptSets.set(fitted, kept)
  }
  return (row) => {
    const value = toCategory(column[row])
    if (value === null) out.add(missingSlot, 1)
    else if (kept !== null && !kept.has(value)) out.add(rareSlot, 1)
    else out.add(hasher.slot(prefix, value), 1)
  }
}
