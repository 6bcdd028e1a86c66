import type { TrainerSpec } from '../config/schema.js'
import { linearDefaults } from '../training/linear/linear-trainer.js'
import type { TrainingProgress } from '../training/trainer.js'
import type { RunProgress } from './run-types.js'

/** Epochs a trainer spec will run, or null when only the trainer knows (custom trainers). */
export function epochsOf(trainer: TrainerSpec): number | null {
  if (trainer.type === 'linear') return trainer.epochs ?? linearDefaults.epochs
  if (trainer.type === 'naive-bayes') return 1
  return null
}

/**
 * Turns a trainer's progress reports into a run's progress: the fraction of the whole fit done, the rate since
 * fitting started, and the time left at that rate.
 */
export class ProgressMeter {
  private startedAt: number | undefined

  constructor(
    private readonly epochs: number | null,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Fitting starts now (the trainer's `train` phase). */
  start(): void {
    this.startedAt = this.clock()
  }

  /** `rows` are the examples of one epoch. */
  update(progress: TrainingProgress & { readonly total: number }): RunProgress {
    this.startedAt ??= this.clock()
    const rows = Math.max(1, progress.total)
    // A custom trainer does not say how many epochs it runs: the ETA is then to the end of the current one.
    const total = rows * (this.epochs ?? Math.max(1, progress.epoch))
    const examples = Math.min(progress.examples, total)
    const seconds = (this.clock() - this.startedAt) / 1000
    const rate = seconds > 0 && examples > 0 ? examples / seconds : null
    return {
      examples: progress.examples,
      total,
      epoch: progress.epoch,
      epochs: this.epochs,
      loss: progress.loss,
      fraction: examples / total,
      examplesPerSecond: rate === null ? null : Math.round(rate),
      etaSeconds: rate === null ? null : Math.round(((total - examples) / rate) * 10) / 10,
    }
  }
}
