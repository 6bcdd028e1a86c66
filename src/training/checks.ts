import { FreshetError } from '../core/errors.js'
import type { SparseMatrix } from '../features/sparse.js'
import type { ModelWeights, TrainingData } from './trainer.js'

/**
 * Checks that labels fit the task and the matrix: one label per row, 0/1 for binary, finite for regression.
 * @throws FreshetError `USAGE` naming the first bad row.
 */
export function checkTrainingData(data: TrainingData): void {
  const { x, y, task } = data
  if (y.length !== x.rows)
    throw new FreshetError('USAGE', `the data has ${x.rows} feature rows but ${y.length} labels`)
  if (x.indptr.length !== x.rows + 1)
    throw new FreshetError(
      'USAGE',
      `the feature matrix has ${x.rows} rows but ${x.indptr.length} row pointers`,
    )
  for (let r = 0; r < y.length; r++) {
    const label = y[r]!
    if (task === 'binary' ? label !== 0 && label !== 1 : !Number.isFinite(label)) {
      throw new FreshetError(
        'USAGE',
        `row ${r}: label ${label} is not valid for a ${task} task (expected ${task === 'binary' ? '0 or 1' : 'a finite number'})`,
      )
    }
  }
}

/** Returns `hashBits` when `cols` is a power of two, else throws. */
export function hashBitsOf(x: SparseMatrix): number {
  const bits = Math.log2(x.cols)
  if (!Number.isInteger(bits) || bits < 1 || bits > 30) {
    throw new FreshetError(
      'USAGE',
      `the feature matrix has ${x.cols} columns; expected 2^hashBits columns with hashBits from 1 to 30`,
    )
  }
  return bits
}

/**
 * Reads a manifest field of a known type.
 * @throws FreshetError `USAGE` when it is absent or of another type.
 */
export function manifestField<T extends 'string' | 'number'>(
  weights: ModelWeights,
  key: string,
  type: T,
): T extends 'string' ? string : number {
  const value = weights.manifest[key]
  if (typeof value !== type)
    throw new FreshetError('USAGE', `the model manifest has no ${type} field ${JSON.stringify(key)}`)
  return value as T extends 'string' ? string : number
}

/**
 * Returns the named array of `weights` with the expected length.
 * @throws FreshetError `USAGE` when it is absent or has another length.
 */
export function weightArray(
  weights: ModelWeights,
  name: string,
  length: number,
): Float32Array | Float64Array {
  const array = weights.arrays[name]
  if (array?.length !== length) {
    throw new FreshetError(
      'USAGE',
      `the model weights have ${array === undefined ? 'no' : `a ${array.length}-long`} array ${JSON.stringify(name)}, expected ${length} values`,
    )
  }
  return array
}

/** Throws FreshetError `ABORTED` when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true)
    throw new FreshetError('ABORTED', 'training was cancelled', { cause: signal.reason })
}

const EPS = 1e-15

/** Log loss of one example with the probability clipped to [1e-15, 1 - 1e-15]. */
export function logLoss(label: number, p: number): number {
  const q = p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p
  return label === 1 ? -Math.log(q) : -Math.log(1 - q)
}

/** The logistic function, with its input clipped to ±35 so the output stays strictly inside (0, 1). */
export function sigmoid(t: number): number {
  const s = t > 35 ? 35 : t < -35 ? -35 : t
  return 1 / (1 + Math.exp(-s))
}
