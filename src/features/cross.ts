import type { FeatureSpec } from '../config/schema.js'
import type { SlotHasher } from './hashing.js'
import type { CsrBuilder } from './sparse.js'
import { toCategory } from './values.js'

type CrossSpec = Extract<FeatureSpec, { type: 'cross' }>

/**
 * A fitted cross: one slot per combination of the columns' values, `value1 U+0002 value2 ...` hashed in the
 * feature's namespace, with value 1. Values are taken as categories ({@link toCategory}: numbers by their
 * `String()`, not bucketized); a missing value takes part as its own marker (U+0003).
 */
export interface FittedCross {
  name: string
  type: 'cross'
  columns: string[]
}

/** Fits a cross: nothing to learn, the columns are recorded. */
export function fitCross(name: string, spec: CrossSpec): FittedCross {
  return { name, type: 'cross', columns: [...spec.columns] }
}

/** Returns the per-row emitter of a cross over its `columns` (same order as `fitted.columns`). */
export function crossEmitter(
  fitted: FittedCross,
  columns: ArrayLike<unknown>[],
  hasher: SlotHasher,
  out: CsrBuilder,
): (row: number) => void {
  const prefix = hasher.prefix(fitted.name)
  return (row) => {
    hasher.begin(prefix)
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) hasher.appendByte(0x02)
      const value = toCategory(columns[c]![row])
      if (value === null) hasher.appendByte(0x03)
      else hasher.appendString(value)
    }
    out.add(hasher.end(), 1)
  }
}
