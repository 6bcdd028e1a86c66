import type { SparseMatrix } from '../../features/sparse.js'
import { logLoss, sigmoid } from '../checks.js'

/** FTRL-Proximal hyperparameters (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches"). */
export interface FtrlParams {
  alpha: number
  beta: number
  l1: number
  l2: number
}

/** Per-coordinate state: `z` (adjusted gradient sums) and `n` (sums of squared gradients). */
export interface FtrlState {
  z: Float64Array
  n: Float64Array
}

/** The lazy weight of coordinate i: 0 when |z| <= l1, else -(z - sgn(z) l1) / ((beta + sqrt(n)) / alpha + l2). */
export function ftrlWeight(z: number, n: number, p: FtrlParams): number {
  if (z <= p.l1 && z >= -p.l1) return 0
  return (z > 0 ? p.l1 - z : -p.l1 - z) / ((p.beta + Math.sqrt(n)) / p.alpha + p.l2)
}

/** Dense weights from an FTRL state (for prediction). */
export function ftrlWeights(
  zs: Float32Array | Float64Array,
  ns: Float32Array | Float64Array,
  p: FtrlParams,
): Float64Array {
  const w = new Float64Array(zs.length)
  for (let i = 0; i < w.length; i++) {
    const z = zs[i]!
    if (z > p.l1 || z < -p.l1) w[i] = ftrlWeight(z, ns[i]!, p)
  }
  return w
}

/**
 * One online FTRL-Proximal update per row, for rows `order[start..end)` (or `start..end` when `order` is null):
 * Algorithm 1 of McMahan et al. 2013 with logistic loss (`logistic`) or squared loss. `scratch` must hold at least
 * 2 * (longest row) values; nothing is allocated.
 * @returns the sum of the rows' losses, each computed before its update (progressive validation).
 */
export function ftrlChunk(
  state: FtrlState,
  p: FtrlParams,
  x: SparseMatrix,
  y: Float64Array,
  logistic: boolean,
  order: Uint32Array | null,
  start: number,
  end: number,
  scratch: Float64Array,
  /** When given, receives each row's prediction made before its update (progressive validation), at the row's index. */
  progressive: Float64Array | null = null,
): number {
  const { z, n } = state
  const { indptr, indices, values } = x
  const { alpha, beta, l1, l2 } = p
  const half = scratch.length >>> 1
  let lossSum = 0
  for (let t = start; t < end; t++) {
    const row = order === null ? t : order[t]!
    const from = indptr[row]!
    const to = indptr[row + 1]!
    let dot = 0
    for (let k = from; k < to; k++) {
      const i = indices[k]!
      const zi = z[i]!
      const sqrtN = Math.sqrt(n[i]!)
      let w = 0
      if (zi > l1) w = (l1 - zi) / ((beta + sqrtN) / alpha + l2)
      else if (zi < -l1) w = (-l1 - zi) / ((beta + sqrtN) / alpha + l2)
      scratch[k - from] = w
      scratch[half + k - from] = sqrtN
      dot += w * values[k]!
    }
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
      const gi = g * values[k]!
      const ni = n[i]! + gi * gi
      const sigma = (Math.sqrt(ni) - scratch[half + k - from]!) / alpha
      z[i] = z[i]! + gi - sigma * scratch[k - from]!
      n[i] = ni
    }
  }
  return lossSum
}
