import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { TrainerSpec } from '../../config/schema.js'
import { FreshetError } from '../../core/errors.js'
import type { SparseMatrix } from '../../features/sparse.js'
import {
  checkTrainingData,
  hashBitsOf,
  logLoss,
  manifestField,
  sigmoid,
  throwIfAborted,
  weightArray,
} from '../checks.js'
import type { FitOptions, ModelWeights, Trainer, TrainingData } from '../trainer.js'

/** Options of the `naive-bayes` trainer: its config spec without `type`. */
export type NaiveBayesSpec = Omit<Extract<TrainerSpec, { type: 'naive-bayes' }>, 'type'>

/** Laplace smoothing when the spec sets none. */
export const DEFAULT_SMOOTHING = 1

const CHUNK = 65_536

interface Model {
  /** log P(slot | positive) - log P(slot | negative) for slots seen in training, 0 for the others. */
  delta: Float64Array
  priorLogOdds: number
}

const models = new WeakMap<ModelWeights, Model>()

/**
 * The built-in `naive-bayes` trainer: multinomial naive Bayes for binary tasks over hashed counts (text features).
 *
 * Per class c and slot i, `P(i | c) = (count_c[i] + a) / (total_c + a * V)` with smoothing `a` and `V` the number
 * of slots seen in training (the hashed vocabulary). The score is the log-odds `log prior ratio + sum_i x_i *
 * (log P(i | 1) - log P(i | 0))` over slots seen in training (unseen slots carry no evidence), and the probability
 * its sigmoid: a ranking-quality score whose probabilities are over-confident on long documents, as naive Bayes
 * is. Negative feature values (standardized numbers) count as 0. Training is counting, so a warm start simply adds
 * the new counts to the previous model's. Manifest: `{ trainer: 'naive-bayes', task, hashBits, smoothing,
 * negatives, positives, examples }`; arrays `counts0`, `counts1` (Float64, 2^hashBits long).
 */
export function createNaiveBayesTrainer(spec: NaiveBayesSpec = {}): Trainer {
  const smoothing = spec.smoothing ?? DEFAULT_SMOOTHING

  async function fit(data: TrainingData, options: FitOptions = {}): Promise<ModelWeights> {
    checkTrainingData(data)
    const { x, y, task } = data
    if (task !== 'binary')
      throw new FreshetError(
        'USAGE',
        `naive-bayes supports binary tasks only, not ${task}; use the linear trainer`,
      )
    const hashBits = hashBitsOf(x)
    if (spec.hashBits !== undefined && spec.hashBits !== hashBits) {
      throw new FreshetError(
        'USAGE',
        `the trainer has hashBits ${spec.hashBits} but the features were hashed into 2^${hashBits} slots`,
      )
    }
    const warm = options.warmStart
    if (
      warm !== undefined &&
      (warm.manifest.trainer !== 'naive-bayes' || warm.manifest.hashBits !== hashBits)
    ) {
      throw new FreshetError(
        'USAGE',
        `cannot warm-start naive-bayes with hashBits ${hashBits} from a model with trainer ${String(warm.manifest.trainer)} and hashBits ${String(warm.manifest.hashBits)}`,
      )
    }
    const counts0 = new Float64Array(x.cols)
    const counts1 = new Float64Array(x.cols)
    let docs0 = 0
    let docs1 = 0
    let total0 = 0
    let total1 = 0
    let vocabulary = 0
    if (warm !== undefined) {
      counts0.set(weightArray(warm, 'counts0', x.cols))
      counts1.set(weightArray(warm, 'counts1', x.cols))
      docs0 = manifestField(warm, 'negatives', 'number')
      docs1 = manifestField(warm, 'positives', 'number')
      for (let i = 0; i < x.cols; i++) {
        total0 += counts0[i]!
        total1 += counts1[i]!
        if (counts0[i]! + counts1[i]! > 0) vocabulary++
      }
    }
    const { indptr, indices, values } = x
    let lossSum = 0
    for (let start = 0; start < x.rows; start += CHUNK) {
      throwIfAborted(options.signal)
      const end = Math.min(x.rows, start + CHUNK)
      for (let r = start; r < end; r++) {
        // Progressive validation: score the example with the counts so far, then count it.
        const positive = y[r] === 1
        const norm0 = Math.log(total0 + smoothing * vocabulary)
        const norm1 = Math.log(total1 + smoothing * vocabulary)
        let score = Math.log((docs1 + 1) / (docs0 + 1))
        for (let k = indptr[r]!; k < indptr[r + 1]!; k++) {
          const i = indices[k]!
          const v = values[k]!
          if (v <= 0) continue
          const c0 = counts0[i]!
          const c1 = counts1[i]!
          if (c0 + c1 > 0) score += v * (Math.log(c1 + smoothing) - norm1 - Math.log(c0 + smoothing) + norm0)
          else vocabulary++
          if (positive) {
            counts1[i] = c1 + v
            total1 += v
          } else {
            counts0[i] = c0 + v
            total0 += v
          }
        }
        if (positive) docs1++
        else docs0++
        lossSum += logLoss(positive ? 1 : 0, sigmoid(score))
      }
      options.onProgress?.({ examples: end, epoch: 1, loss: lossSum / end })
      if (end < x.rows) await yieldToEventLoop()
    }
    const previous = warm === undefined ? 0 : Number(warm.manifest.examples ?? 0)
    return {
      manifest: {
        trainer: 'naive-bayes',
        format: 1,
        task,
        hashBits,
        smoothing,
        negatives: docs0,
        positives: docs1,
        examples: previous + x.rows,
      },
      arrays: { counts0, counts1 },
    }
  }

  return {
    type: 'naive-bayes',
    fit,
    predict(weights: ModelWeights, x: SparseMatrix, out?: Float64Array): Float64Array {
      const { delta, priorLogOdds } = modelOf(weights, x)
      const result = out ?? new Float64Array(x.rows)
      const { indptr, indices, values } = x
      for (let r = 0; r < x.rows; r++) {
        let score = priorLogOdds
        for (let k = indptr[r]!; k < indptr[r + 1]!; k++) {
          const v = values[k]!
          if (v > 0) score += v * delta[indices[k]!]!
        }
        result[r] = sigmoid(score)
      }
      return result
    },
  }
}

function modelOf(weights: ModelWeights, x: SparseMatrix): Model {
  if (weights.manifest.trainer !== 'naive-bayes') {
    throw new FreshetError(
      'USAGE',
      `these weights are from trainer ${String(weights.manifest.trainer)}, not naive-bayes`,
    )
  }
  const hashBits = manifestField(weights, 'hashBits', 'number')
  if (x.cols !== 2 ** hashBits)
    throw new FreshetError(
      'USAGE',
      `the model expects 2^${hashBits} feature slots but the features have ${x.cols}`,
    )
  const cached = models.get(weights)
  if (cached !== undefined) return cached
  const a = manifestField(weights, 'smoothing', 'number')
  const counts0 = weightArray(weights, 'counts0', x.cols)
  const counts1 = weightArray(weights, 'counts1', x.cols)
  let total0 = 0
  let total1 = 0
  let vocabulary = 0
  for (let i = 0; i < x.cols; i++) {
    total0 += counts0[i]!
    total1 += counts1[i]!
    if (counts0[i]! + counts1[i]! > 0) vocabulary++
  }
  const norm = Math.log(total0 + a * vocabulary) - Math.log(total1 + a * vocabulary)
  const delta = new Float64Array(x.cols)
  for (let i = 0; i < x.cols; i++) {
    const c0 = counts0[i]!
    const c1 = counts1[i]!
    if (c0 + c1 > 0) delta[i] = Math.log(c1 + a) - Math.log(c0 + a) + norm
  }
  const negatives = manifestField(weights, 'negatives', 'number')
  const positives = manifestField(weights, 'positives', 'number')
  const model = { delta, priorLogOdds: Math.log((positives + 1) / (negatives + 1)) }
  models.set(weights, model)
  return model
}
