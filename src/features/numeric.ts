import type { FeatureSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import { reservedTokens, type SlotHasher } from './hashing.js'
import type { CsrBuilder } from './sparse.js'
import { toNumber } from './values.js'

type NumericSpec = Extract<FeatureSpec, { type: 'numeric' }>

/**
 * A fitted numeric feature. Statistics are of the raw values (before any transform) and are kept in the artifact.
 *
 * Emitted entries: without buckets, one slot with the transformed value; with buckets, a one-hot bucket slot
 * instead; a missing value emits nothing but the missing indicator (so it contributes 0, the training mean after
 * standardizing).
 */
export interface FittedNumeric {
  name: string
  type: 'numeric'
  /** `standardize`: (x - mean) / std; `log1p`: sign(x) * log(1 + |x|); `none`: x. */
  transform: 'standardize' | 'log1p' | 'none'
  /** `indicator`: a missing value sets its own slot to 1; `zero`: a missing value emits nothing. */
  missing: 'indicator' | 'zero'
  /** Ascending bucket boundaries (bucket i holds boundaries[i-1] <= x < boundaries[i]), or null. */
  buckets: number[] | null
  count: number
  missingCount: number
  mean: number
  /** Population standard deviation; 0 when all values are equal. */
  std: number
  min: number | null
  max: number | null
}

/**
 * Fits a numeric feature: Welford mean/std, min/max, and quantile bucket boundaries when `buckets` is a count.
 * Missing values are those {@link toNumber} maps to NaN.
 * @throws FreshetError `USAGE` when explicit bucket boundaries are not strictly ascending.
 */
export function fitNumeric(
  name: string,
  spec: NumericSpec,
  column: ArrayLike<unknown>,
  length: number,
): FittedNumeric {
  let count = 0
  let mean = 0
  let m2 = 0
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let maxAbs = 0
  const wantsQuantiles = typeof spec.buckets === 'number'
  const finite = wantsQuantiles ? new Float64Array(length) : undefined
  for (let r = 0; r < length; r++) {
    const x = toNumber(column[r])
    if (Number.isNaN(x)) continue
    if (finite !== undefined) finite[count] = x
    count++
    const delta = x - mean
    mean += delta / count
    m2 += delta * (x - mean)
    if (x < min) min = x
    if (x > max) max = x
    if (Math.abs(x) > maxAbs) maxAbs = Math.abs(x)
  }
  let buckets: number[] | null = null
  if (typeof spec.buckets === 'number' && finite !== undefined) {
    buckets = quantileBoundaries(finite.subarray(0, count), spec.buckets)
  } else if (Array.isArray(spec.buckets)) {
    buckets = [...spec.buckets]
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) {
        throw new FreshetError(
          'USAGE',
          `feature ${JSON.stringify(name)}: bucket boundaries must be strictly ascending, got ${JSON.stringify(spec.buckets)}`,
          {
            column: name,
          },
        )
      }
    }
  }
  let std = count > 0 ? Math.sqrt(m2 / count) : 0
  if (!Number.isFinite(mean) || !Number.isFinite(std)) {
    // Welford overflows on magnitudes past ~1e154 (squares) or ~1e308 (differences of opposite signs): redo it on
    // the values divided by the largest magnitude, where every intermediate stays small.
    const scaled = scaledMoments(column, length, maxAbs)
    mean = scaled.mean * maxAbs
    std = scaled.std * maxAbs
  }
  return {
    name,
    type: 'numeric',
    transform: spec.transform ?? 'standardize',
    missing: spec.missing ?? 'indicator',
    buckets,
    count,
    missingCount: length - count,
    mean: count > 0 ? mean : 0,
    std: Number.isFinite(std) ? std : 0,
    min: count > 0 ? min : null,
    max: count > 0 ? max : null,
  }
}

/** Mean and population std of the present values of `column` divided by `scale`. */
function scaledMoments(
  column: ArrayLike<unknown>,
  length: number,
  scale: number,
): { mean: number; std: number } {
  let count = 0
  let mean = 0
  let m2 = 0
  for (let r = 0; r < length; r++) {
    const x = toNumber(column[r]) / scale
    if (Number.isNaN(x)) continue
    count++
    const delta = x - mean
    mean += delta / count
    m2 += delta * (x - mean)
  }
  return { mean, std: count > 0 ? Math.sqrt(m2 / count) : 0 }
}

/** Boundaries at the k/n quantiles (k = 1..n-1) of `values`, duplicates removed. */
function quantileBoundaries(values: Float64Array, bucketCount: number): number[] {
  values.sort()
  const boundaries: number[] = []
  const n = values.length
  if (n === 0) return boundaries
  for (let k = 1; k < bucketCount; k++) {
    const q = values[Math.floor((k * n) / bucketCount)] ?? values[n - 1]!
    if (boundaries.length === 0 || q > boundaries[boundaries.length - 1]!) boundaries.push(q)
  }
  return boundaries
}

/** Number of boundaries <= x (binary search): the bucket index of x. */
function bucketOf(boundaries: number[], x: number): number {
  let lo = 0
  let hi = boundaries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (boundaries[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Largest finite float32: the feature matrix stores float32, where anything larger would become Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38

/** The transformed value of a present number, clamped to the finite float32 range. */
export function numericValue(fitted: FittedNumeric, x: number): number {
  switch (fitted.transform) {
    case 'standardize':
      return clampFloat32((x - fitted.mean) / (fitted.std > 0 ? fitted.std : 1))
    case 'log1p':
      return x < 0 ? -Math.log1p(-x) : Math.log1p(x)
    case 'none':
      return clampFloat32(x)
  }
}

function clampFloat32(v: number): number {
  return v > FLOAT32_MAX ? FLOAT32_MAX : v < -FLOAT32_MAX ? -FLOAT32_MAX : v
}

/** Returns the per-row emitter of a numeric feature over `column`. */
export function numericEmitter(
  fitted: FittedNumeric,
  column: ArrayLike<unknown>,
  hasher: SlotHasher,
  out: CsrBuilder,
): (row: number) => void {
  const prefix = hasher.prefix(fitted.name)
  const missingSlot = fitted.missing === 'indicator' ? hasher.slot(prefix, reservedTokens.missing) : -1
  const boundaries = fitted.buckets
  if (boundaries !== null) {
    const bucketSlots = new Uint32Array(boundaries.length + 1)
    for (let b = 0; b < bucketSlots.length; b++)
      bucketSlots[b] = hasher.slot(prefix, reservedTokens.bucket(b))
    return (row) => {
      const x = toNumber(column[row])
      if (Number.isNaN(x)) {
        if (missingSlot >= 0) out.add(missingSlot, 1)
      } else {
        out.add(bucketSlots[bucketOf(boundaries, x)]!, 1)
      }
    }
  }
  const valueSlot = hasher.slot(prefix, reservedTokens.value)
  return (row) => {
    const x = toNumber(column[row])
    if (Number.isNaN(x)) {
      if (missingSlot >= 0) out.add(missingSlot, 1)
    } else {
      out.add(valueSlot, numericValue(fitted, x))
    }
  }
}
