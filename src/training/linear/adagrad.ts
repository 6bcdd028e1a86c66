import type { SparseMatrix } from '../../features/sparse.js'
import { logLoss, sigmoid } from '../checks.js'

/**
 * AdaGrad SGD hyperparameters. The penalties are per update, applied to the coordinates an example touches
 * (lazily, like most sparse SGD): L2 adds `l2 * w` to the gradient, L1 is a proximal shrink by `eta * l1`.
 */
export interface AdagradParams {
  learningRate: number
  l1: number
  l2: number
}

/** Per-coordinate state: weights `w` and sums of squared gradients `g2`. */
export interface AdagradState {
  w: Float64Array
  g2: Float64Array
}

/**
 * One AdaGrad step per row, for rows `order[start..end)` (or `start..end` when `order` is null); the step of
 * coordinate i is `learningRate / sqrt(g2[i])`. Allocates nothing.
 * @returns the sum of the rows' losses, each computed before its update.
 */
export function adagradChunk(
  state: AdagradState,
  p: AdagradParams,
  x: SparseMatrix,
  y: Float64Array,
  logistic: boolean,
  order: Uint32Array | null,
  start: number,
  end: number,
  /** When given, receives each row's prediction made before its update (progressive validation), at the row's index. */
  progressive: Float64Array | null = null,
): number {
  const { w, g2 } = state
  const { indptr, indices, values } = x
  const { learningRate, l1, l2 } = p
  let lossSum = 0
  for (let t = start; t < end; t++) {
    const row = order === null ? t : order[t]!
    const from = indptr[row]!
    const to = indptr[row + 1]!
    let dot = 0
    for (let k = from; k < to; k++) dot += w[indices[k]!]! * values[k]!
    const label = y[row]!
    let g: number
    if (logistic) {
      const prob = sigmoid(dot)
      if (progressive !== null) progressive[row] = prob
      lossSum += logLoss(label, prob)
      g = prob - label
    } else {
      if (progressive !== null) progressive[row] = dot
      g = dot - label
      lossSum += g * g
    }
    for (let k = from; k < to; k++) {
      const i = indices[k]!
      const wi = w[i]!
      const gi = g * values[k]! + l2 * wi
      const acc = g2[i]! + gi * gi
      if (acc === 0) continue
      g2[i] = acc
      const eta = learningRate / Math.sqrt(acc)
      let next = wi - eta * gi
      if (l1 > 0) {
        const shrink = eta * l1
        next = next > shrink ? next - shrink : next < -shrink ? next + shrink : 0
      }
      w[i] = next
    }
  }
  return lossSum
}
