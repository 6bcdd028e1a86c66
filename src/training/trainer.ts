import type { SparseMatrix } from '../features/sparse.js'

/** What a model predicts: a probability of the positive class, or a real value. */
export type Task = 'binary' | 'regression'

/**
 * Examples to learn from: row `r` of `x` (hashed features) has label `y[r]`, 0 or 1 for `binary` tasks.
 * Rows are visited in this order by one-pass (online) learners, so pass them in event-time order.
 */
export interface TrainingData {
  x: SparseMatrix
  y: Float64Array
  task: Task
}

/**
 * A trained model's learned state: data only, never code. `manifest` is JSON (trainer type, task, hyperparameters,
 * shapes); `arrays` hold the numbers. {@link serializeWeights} turns it into the artifact's bytes.
 */
export interface ModelWeights {
  manifest: Record<string, unknown>
  arrays: Record<string, Float32Array | Float64Array>
}

/** Reported while a trainer works, about every 2^16 examples and at the end of each epoch. */
export interface TrainingProgress {
  /** Examples processed so far, over all epochs. */
  examples: number
  /** 1-based epoch. */
  epoch: number
  /** Running average loss of the current epoch (progressive validation: each example scored before it is learned). */
  loss: number
}

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Aborting stops training between chunks of examples with FreshetError `ABORTED`. */
  signal?: AbortSignal
  onProgress?: (progress: TrainingProgress) => void
  /** Continue from a previous model of the same trainer and shape instead of starting from zero. */
  warmStart?: ModelWeights
  /**
   * Online learning with progressive validation: one pass over the rows in the order given, and each row's
   * prediction made before the trainer learns from it written here (length >= rows). Trainers that cannot learn
   * online throw FreshetError `USAGE`.
   */
  progressive?: Float64Array
  /** The holdout rows the run evaluates on afterwards, for trainers that report their own evaluation (never learned from). */
  holdout?: TrainingData
}

/**
 * A learner, built in or custom. Implementations must be deterministic for the same data, options and seed, and
 * must not keep references to `data` after `fit` returns.
 *
 * @example
 * const trainer = createTrainer({ type: 'linear', optimizer: 'ftrl' })
 * const weights = await trainer.fit({ x, y, task: 'binary' }, { onProgress: (p) => console.log(p.loss) })
 * const probabilities = trainer.predict(weights, transform(fitted, batch))
 */
export interface Trainer {
  /** The trainer type recorded in the manifest (`linear`, `naive-bayes`, or a custom name). */
  readonly type: string
  /**
   * Learns weights from `data`.
   * @throws FreshetError `USAGE` for data or a warm start the trainer cannot use (the message says why),
   * `ABORTED` when `options.signal` aborts.
   */
  fit(data: TrainingData, options?: FitOptions): Promise<ModelWeights> | ModelWeights
  /**
   * Scores each row of `x`: the probability of the positive class for binary tasks, the value for regression.
   * Writes into `out` when given (length >= x.rows) and returns it.
   * @throws FreshetError `USAGE` when `weights` are not this trainer's or `x` has another width.
   */
  predict(weights: ModelWeights, x: SparseMatrix, out?: Float64Array): Float64Array
}

/** True when `value` has the shape of a {@link Trainer} (for modules loaded from a custom trainer path). */
export function isTrainer(value: unknown): value is Trainer {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Partial<Record<keyof Trainer, unknown>>
  return (
    typeof candidate.type === 'string' &&
    typeof candidate.fit === 'function' &&
    typeof candidate.predict === 'function'
  )
}
