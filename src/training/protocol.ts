import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { ProductionEvaluation } from '../evaluation/gate.js'
import type { HeadlineMetrics } from './artifact.js'
import type { TrainingEvent, TrainingStrategy } from './run-training.js'

/** The job the runner sends to the trainer's child process. */
export interface TrainingJob {
  root: string
  configFile: string | undefined
  stateDir: string
  /** The validated configuration (plain data). */
  config: unknown
  pipeline: string
  /** Folder the child writes the artifact into. */
  outDir: string
  /** Train on these batches only (the run's pinned data); every usable batch when absent. */
  batchIds?: string[]
  /** Overrides the pipeline's `training.strategy`. */
  strategy?: TrainingStrategy
  /** The production version pinned by the caller: the baseline on the same holdout and a warm start's parent. */
  production?: number | null
}

export type ChildMessage =
  | { type: 'event'; event: TrainingEvent }
  | {
      type: 'done'
      manifestFile: string
      weightsFile: string
      metrics: HeadlineMetrics
      evaluation: BinaryMetrics | RegressionMetrics
      lineage: Record<string, unknown>
      production: ProductionEvaluation | null
      samples: Record<string, unknown>[]
    }
  | { type: 'error'; error: { code: string; message: string; hint?: string; stack?: string } }
