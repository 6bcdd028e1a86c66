import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { TrainerSpec } from '../../config/schema.js'
import { FreshetError } from '../../core/errors.js'
import { maxRowLength, type SparseMatrix } from '../../features/sparse.js'
import {
  checkTrainingData,
  hashBitsOf,
  manifestField,
  sigmoid,
  throwIfAborted,
  weightArray,
} from '../checks.js'
import { identity, mulberry32, shuffleInPlace } from '../../core/random.js'
import type { FitOptions, ModelWeights, Task, Trainer, TrainingData } from '../trainer.js'
import { adagradChunk, type AdagradParams } from './adagrad.js'
import { ftrlChunk, ftrlWeights, type FtrlParams } from './ftrl.js'

/** Options of the `linear` trainer: its config spec without `type`. */
export type LinearSpec = Omit<Extract<TrainerSpec, { type: 'linear' }>, 'type'>

/**
 * Defaults of the `linear` trainer. FTRL: alpha 0.1, beta 1, l1 0.1, l2 1. McMahan et al. suggest l1 around 1 for
 * web-scale data, where it is small against gradient sums over millions of rows; on thousands of rows (the
 * SpamAssassin example) l1 = 1 cost about 2 points of F1 against 0.1, while 0.1 still zeroes rare, uninformative
 * slots. AdaGrad: learning rate 0.1 and no penalties, because its l1/l2 are per update and even 1e-4 is a strong
 * penalty there.
 */
export const linearDefaults = {
  optimizer: 'ftrl',
  epochs: 1,
  seed: 1,
  ftrl: { alpha: 0.1, beta: 1, l1: 0.1, l2: 1 },
  adagrad: { learningRate: 0.1, l1: 0, l2: 0 },
} as const

/** Rows per chunk: progress, abort checks and event-loop turns happen between chunks. */
const CHUNK = 65_536
const weightsCache = new WeakMap<ModelWeights, Float64Array>()

/**
 * The built-in `linear` trainer: logistic regression (binary) or least-squares linear regression over hashed
 * sparse features, learned online with FTRL-Proximal (default) or AdaGrad SGD.
 *
 * One epoch (the default) is one pass over the rows in the order given, the online-learning setting. With
 * `epochs > 1`, every epoch visits the rows in a new seeded random order. A warm start continues from a previous
 * model's optimizer state (FTRL `z`, `n`; AdaGrad `w`, `g2`), which must have the same optimizer, task and width.
 * Manifest: `{ trainer: 'linear', task, optimizer, hashBits, hyperparameters..., examples }`; arrays `z`, `n` or
 * `w`, `g2` (Float64, 2^hashBits long). The spec's `hashBits` is the width the features must be hashed into
 * (the runner passes it to `fitTransform`); `fit` checks it against the matrix.
 * @example
 * const trainer = createLinearTrainer({ optimizer: 'ftrl', epochs: 1 })
 * const weights = await trainer.fit({ x, y, task: 'binary' })
 */
export function createLinearTrainer(spec: LinearSpec = {}): Trainer {
  const optimizer = spec.optimizer ?? linearDefaults.optimizer
  const epochs = spec.epochs ?? linearDefaults.epochs
  const seed = spec.seed ?? linearDefaults.seed
  const ftrl: FtrlParams = {
    alpha: spec.alpha ?? linearDefaults.ftrl.alpha,
    beta: spec.beta ?? linearDefaults.ftrl.beta,
    l1: spec.l1 ?? linearDefaults.ftrl.l1,
    l2: spec.l2 ?? linearDefaults.ftrl.l2,
  }
  const adagrad: AdagradParams = {
    learningRate: spec.learningRate ?? linearDefaults.adagrad.learningRate,
    l1: spec.l1 ?? linearDefaults.adagrad.l1,
    l2: spec.l2 ?? linearDefaults.adagrad.l2,
  }
  const names = optimizer === 'ftrl' ? (['z', 'n'] as const) : (['w', 'g2'] as const)

  async function fit(data: TrainingData, options: FitOptions = {}): Promise<ModelWeights> {
    checkTrainingData(data)
    const { x, y, task } = data
    const hashBits = hashBitsOf(x)
    if (spec.hashBits !== undefined && spec.hashBits !== hashBits) {
      throw new FreshetError(
        'USAGE',
        `the trainer has hashBits ${spec.hashBits} but the features were hashed into 2^${hashBits} slots`,
      )
    }
    const progressive = options.progressive ?? null
    if (progressive !== null && (epochs !== 1 || progressive.length < x.rows)) {
      throw new FreshetError('USAGE', epochs !== 1 ? `online training is one pass over the rows in time order, but the trainer has epochs ${epochs}` : `the progressive predictions need room for ${x.rows} rows, got ${progressive.length}`, {
        hint: 'remove `epochs` from the linear trainer (or set it to 1) to train online',
      })
    }
    const [a, b] = startingState(options.warmStart, task, hashBits, x.cols)
    const logistic = task === 'binary'
    const order = epochs > 1 ? identity(x.rows) : null
    const random = mulberry32(seed)
    const scratch = new Float64Array(2 * Math.max(1, maxRowLength(x)))
    let examples = 0
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (order !== null) shuffleInPlace(order, random)
      let lossSum = 0
      for (let start = 0; start < x.rows; start += CHUNK) {
        throwIfAborted(options.signal)
        const end = Math.min(x.rows, start + CHUNK)
        lossSum +=
          optimizer === 'ftrl'
            ? ftrlChunk({ z: a, n: b }, ftrl, x, y, logistic, order, start, end, scratch, progressive)
            : adagradChunk({ w: a, g2: b }, adagrad, x, y, logistic, order, start, end, progressive)
        examples += end - start
        options.onProgress?.({ examples, epoch, loss: lossSum / end })
        if (end < x.rows) await yieldToEventLoop()
      }
    }
    const previous = options.warmStart === undefined ? 0 : Number(options.warmStart.manifest.examples ?? 0)
    const manifest = {
      trainer: 'linear',
      format: 1,
      task,
      optimizer,
      hashBits,
      ...(optimizer === 'ftrl' ? ftrl : adagrad),
      epochs,
      seed,
      examples: previous + examples,
    }
    return { manifest, arrays: { [names[0]]: a, [names[1]]: b } }
  }

  function startingState(
    warm: ModelWeights | undefined,
    task: Task,
    hashBits: number,
    size: number,
  ): [Float64Array, Float64Array] {
    if (warm === undefined) return [new Float64Array(size), new Float64Array(size)]
    const m = warm.manifest
    const mismatch =
      m.trainer !== 'linear'
        ? `trainer ${String(m.trainer)}`
        : m.optimizer !== optimizer
          ? `optimizer ${String(m.optimizer)}`
          : m.task !== task
            ? `task ${String(m.task)}`
            : m.hashBits !== hashBits
              ? `hashBits ${String(m.hashBits)}`
              : null
    if (mismatch !== null) {
      throw new FreshetError(
        'USAGE',
        `cannot warm-start a linear ${optimizer} ${task} model with hashBits ${hashBits} from a model with ${mismatch}`,
        {
          hint: 'train from scratch (strategy: full) after changing the trainer, task or hashBits',
        },
      )
    }
    return [
      Float64Array.from(weightArray(warm, names[0], size)),
      Float64Array.from(weightArray(warm, names[1], size)),
    ]
  }

  return {
    type: 'linear',
    fit,
    predict(weights: ModelWeights, x: SparseMatrix, out?: Float64Array): Float64Array {
      const w = denseWeights(weights, x)
      const logistic = manifestField(weights, 'task', 'string') === 'binary'
      const result = out ?? new Float64Array(x.rows)
      const { indptr, indices, values } = x
      for (let r = 0; r < x.rows; r++) {
        let dot = 0
        for (let k = indptr[r]!; k < indptr[r + 1]!; k++) dot += w[indices[k]!]! * values[k]!
        result[r] = logistic ? sigmoid(dot) : dot
      }
      return result
    },
  }
}

/** The model's weight vector, computed once per weights object (FTRL weights are lazy functions of z and n). */
function denseWeights(weights: ModelWeights, x: SparseMatrix): Float64Array {
  if (weights.manifest.trainer !== 'linear') {
    throw new FreshetError(
      'USAGE',
      `these weights are from trainer ${String(weights.manifest.trainer)}, not linear`,
    )
  }
  const hashBits = manifestField(weights, 'hashBits', 'number')
  if (x.cols !== 2 ** hashBits) {
    throw new FreshetError(
      'USAGE',
      `the model expects 2^${hashBits} feature slots but the features have ${x.cols}`,
    )
  }
  const cached = weightsCache.get(weights)
  if (cached !== undefined) return cached
  let w: Float64Array
  if (weights.manifest.optimizer === 'ftrl') {
    const params: FtrlParams = {
      alpha: manifestField(weights, 'alpha', 'number'),
      beta: manifestField(weights, 'beta', 'number'),
      l1: manifestField(weights, 'l1', 'number'),
      l2: manifestField(weights, 'l2', 'number'),
    }
    w = ftrlWeights(weightArray(weights, 'z', x.cols), weightArray(weights, 'n', x.cols), params)
  } else {
    w = Float64Array.from(weightArray(weights, 'w', x.cols))
  }
  weightsCache.set(weights, w)
  return w
}
