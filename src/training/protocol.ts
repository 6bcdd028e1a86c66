import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { HeadlineMetrics, TrainingEvent } from './run-training.js'

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
}

export type ChildMessage =
  | { type: 'event'; event: TrainingEvent }
  | { type: 'done'; manifestFile: string; weightsFile: string; metrics: HeadlineMetrics; evaluation: BinaryMetrics | RegressionMetrics; lineage: Record<string, unknown> }
  | { type: 'error'; error: { code: string; message: string; hint?: string; stack?: string } }
