import path from 'node:path'
import type { TrainerSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { FittedTransform } from '../features/transform.js'
import { createTrainer } from './built-ins.js'
import { createCommandTrainer } from './command/command-trainer.js'
import { isTrainer, type Trainer } from './trainer.js'

export const manifestFormat = 'freshet-model/1'

/** What the model artifact's manifest holds: everything serving needs besides the weights. Data only. */
export interface ModelManifest {
  format: typeof manifestFormat
  pipeline: string
  task: 'binary' | 'regression'
  trainer: TrainerSpec
  label: string
  transform: FittedTransform
  freshetVersion: string
}

/** Headline numbers of a model on its holdout, as recorded in the registry. */
export type HeadlineMetrics = Record<string, number>

export function headline(evaluation: BinaryMetrics | RegressionMetrics): HeadlineMetrics {
  if ('auc' in evaluation) {
    return {
      auc: evaluation.auc,
      logloss: evaluation.logLoss,
      accuracy: evaluation.atHalf.accuracy,
      precision: evaluation.atHalf.precision,
      recall: evaluation.atHalf.recall,
      f1: evaluation.atHalf.f1,
      bestF1: evaluation.bestF1.f1,
      bestF1Threshold: evaluation.bestF1.threshold,
      meanPredicted: evaluation.calibration.meanPredicted,
      observedRate: evaluation.calibration.observedRate,
      count: evaluation.count,
    }
  }
  return { rmse: evaluation.rmse, mae: evaluation.mae, r2: evaluation.r2, count: evaluation.count }
}

/** Loads the trainer a pipeline names: a built-in, or a custom module's default export (a Trainer or a factory). */
export async function resolveTrainer(spec: TrainerSpec, root: string): Promise<Trainer> {
  // The command runs in the workspace; serving only scores the model it wrote.
  if (spec.type === 'command') return createCommandTrainer(spec, { cwd: root })
  if (spec.type !== 'custom') return createTrainer(spec)
  const file = path.resolve(root, spec.module)
  const { createJiti } = await import('jiti')
  const mod = await createJiti(import.meta.url, { moduleCache: false }).import<{ default?: unknown }>(file)
  const exported = mod.default ?? mod
  const trainer = typeof exported === 'function' ? (exported as (options: unknown) => unknown)(spec.options ?? {}) : exported
  if (!isTrainer(trainer)) {
    throw new FreshetError('CONFIG_INVALID', `${spec.module} does not export a trainer (an object with type, fit and predict, or a function returning one)`, { file })
  }
  return trainer
}
