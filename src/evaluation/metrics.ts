import { FreshetError } from '../core/errors.js'

/** Confusion counts and derived rates when predicting positive for scores >= `threshold`. */
export interface ThresholdMetrics {
  threshold: number
  accuracy: number
  /** 0 when nothing is predicted positive. */
  precision: number
  /** 0 when there are no positives. */
  recall: number
  /** 0 when precision and recall are both 0. */
  f1: number
  truePositives: number
  falsePositives: number
  trueNegatives: number
  falseNegatives: number
}

/** One bin of a reliability diagram: predictions in [lower, upper) (the last bin includes 1). */
export interface ReliabilityBin {
  lower: number
  upper: number
  count: number
  /** NaN for an empty bin. */
  meanPredicted: number
  /** NaN for an empty bin. */
  observedRate: number
}

/** Quality of probabilities against 0/1 labels; see {@link binaryMetrics}. */
export interface BinaryMetrics {
  count: number
  positives: number
  /** Area under the ROC curve; NaN when only one class is present. */
  auc: number
  /** Mean log loss with probabilities clipped to [1e-15, 1 - 1e-15]. */
  logLoss: number
  /** At the conventional threshold 0.5. */
  atHalf: ThresholdMetrics
  /** At the threshold with the best F1 (the highest such threshold when several tie). */
  bestF1: ThresholdMetrics
  calibration: {
    meanPredicted: number
    observedRate: number
    /** Ten equal-width bins of predicted probability. */
    bins: ReliabilityBin[]
  }
}

/** Quality of real-valued predictions; see {@link regressionMetrics}. */
export interface RegressionMetrics {
  count: number
  rmse: number
  mae: number
  /** 1 - SSE / SST; NaN when the labels are all equal. */
  r2: number
}

/**
 * Evaluates probabilities `p` against 0/1 labels `y`. All metrics are exact; O(n log n).
 * @throws FreshetError `USAGE` when the lengths differ, a label is not 0/1 or a probability is outside [0, 1].
 */
export function binaryMetrics(y: ArrayLike<number>, p: ArrayLike<number>): BinaryMetrics {
  checkBinary(y, p)
  const n = y.length
  let positives = 0
  let loss = 0
  let predictedSum = 0
  const eps = 1e-15
  for (let i = 0; i < n; i++) {
    const label = y[i]!
    const q = Math.min(1 - eps, Math.max(eps, p[i]!))
    positives += label
    predictedSum += p[i]!
    loss -= label === 1 ? Math.log(q) : Math.log(1 - q)
  }
  return {
    count: n,
    positives,
    auc: auc(y, p),
    logLoss: n > 0 ? loss / n : Number.NaN,
    atHalf: thresholdMetrics(y, p, 0.5),
    bestF1: bestF1(y, p),
    calibration: {
      meanPredicted: predictedSum / n,
      observedRate: positives / n,
      bins: reliability(y, p, 10),
    },
  }
}

/** Indices 0..n-1 sorted by descending score, ties by index (deterministic). */
function byScoreDescending(p: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(p.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  return order.sort((a, b) => p[b]! - p[a]! || a - b)
}

/**
 * Exact ROC AUC via the rank-sum (Mann-Whitney U) statistic, tied scores sharing their average rank: constant
 * scores give 0.5. NaN when `y` has no positives or no negatives.
 */
export function auc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkBinary(y, p)
  const order = byScoreDescending(p).reverse()
  const n = order.length
  let positives = 0
  let rankSum = 0
  for (let start = 0; start < n;) {
    let end = start + 1
    while (end < n && p[order[end]!] === p[order[start]!]) end++
    const averageRank = (start + 1 + end) / 2
    for (let k = start; k < end; k++) {
      if (y[order[k]!] === 1) {
        positives++
        rankSum += averageRank
      }
    }
    start = end
  }
  const negatives = n - positives
  if (positives === 0 || negatives === 0) return Number.NaN
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives)
}

/** Confusion-matrix metrics when scores >= `threshold` are predicted positive. */
export function thresholdMetrics(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  threshold: number,
): ThresholdMetrics {
  checkBinary(y, p)
  let tp = 0
  let fp = 0
  let positives = 0
  for (let i = 0; i < y.length; i++) {
    positives += y[i]!
    if (p[i]! >= threshold) {
      if (y[i] === 1) tp++
      else fp++
    }
  }
  return confusion(threshold, tp, fp, positives, y.length)
}

/** The threshold among the scores that maximizes F1, with its metrics. */
export function bestF1(y: ArrayLike<number>, p: ArrayLike<number>): ThresholdMetrics {
  checkBinary(y, p)
  const order = byScoreDescending(p)
  let positives = 0
  for (let i = 0; i < y.length; i++) positives += y[i]!
  let best = confusion(Number.NaN, 0, 0, positives, y.length)
  let tp = 0
  let fp = 0
  for (let start = 0; start < order.length;) {
    const score = p[order[start]!]!
    let end = start
    for (; end < order.length && p[order[end]!] === score; end++) {
      if (y[order[end]!] === 1) tp++
      else fp++
    }
    const candidate = confusion(score, tp, fp, positives, y.length)
    if (Number.isNaN(best.threshold) || candidate.f1 > best.f1) best = candidate
    start = end
  }
  return best
}

function confusion(
  threshold: number,
  tp: number,
  fp: number,
  positives: number,
  n: number,
): ThresholdMetrics {
  const fn = positives - tp
  const tn = n - positives - fp
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0
  const recall = positives > 0 ? tp / positives : 0
  return {
    threshold,
    accuracy: n > 0 ? (tp + tn) / n : Number.NaN,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
  }
}

/** Reliability table: `bins` equal-width bins of predicted probability. */
export function reliability(y: ArrayLike<number>, p: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  const count = new Float64Array(bins)
  const predicted = new Float64Array(bins)
  const observed = new Float64Array(bins)
  for (let i = 0; i < y.length; i++) {
    const b = Math.min(bins - 1, Math.floor(p[i]! * bins))
    count[b]!++
    predicted[b]! += p[i]!
    observed[b]! += y[i]!
  }
  return Array.from({ length: bins }, (_, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: count[b]!,
    meanPredicted: count[b]! > 0 ? predicted[b]! / count[b]! : Number.NaN,
    observedRate: count[b]! > 0 ? observed[b]! / count[b]! : Number.NaN,
  }))
}

/**
 * Regression metrics of predictions `yhat` against `y`.
 * @throws FreshetError `USAGE` when the lengths differ or a value is not finite.
 */
export function regressionMetrics(y: ArrayLike<number>, yhat: ArrayLike<number>): RegressionMetrics {
  checkLengths(y, yhat)
  const n = y.length
  let sum = 0
  for (let i = 0; i < n; i++) sum += y[i]!
  const mean = sum / n
  let sse = 0
  let sst = 0
  let absolute = 0
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(y[i]) || !Number.isFinite(yhat[i])) {
      throw new FreshetError(
        'USAGE',
        `row ${i}: label ${y[i]} or prediction ${yhat[i]} is not a finite number`,
      )
    }
    const error = yhat[i]! - y[i]!
    sse += error * error
    absolute += Math.abs(error)
    sst += (y[i]! - mean) ** 2
  }
  return {
    count: n,
    rmse: Math.sqrt(sse / n),
    mae: absolute / n,
    r2: sst > 0 ? 1 - sse / sst : Number.NaN,
  }
}

function checkLengths(y: ArrayLike<number>, p: ArrayLike<number>): void {
  if (y.length !== p.length) throw new FreshetError('USAGE', `${y.length} labels but ${p.length} predictions`)
}

function checkBinary(y: ArrayLike<number>, p: ArrayLike<number>): void {
  checkLengths(y, p)
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new FreshetError('USAGE', `row ${i}: label ${y[i]} is not 0 or 1`)
    const q = p[i]!
    if (!(q >= 0 && q <= 1))
      throw new FreshetError('USAGE', `row ${i}: prediction ${q} is not a probability in [0, 1]`)
  }
}
