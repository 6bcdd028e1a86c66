import type { TrainerSpec } from '../config/schema.js'
import { createCommandTrainer } from './command/command-trainer.js'
import { createLinearTrainer } from './linear/linear-trainer.js'
import { createNaiveBayesTrainer } from './naive-bayes/naive-bayes-trainer.js'
import type { Trainer } from './trainer.js'

/** A trainer spec of a built-in trainer (custom trainers are modules the runner loads). */
export type BuiltInTrainerSpec = Exclude<TrainerSpec, { type: 'custom' }>

/** Hash width of the built-in trainers when the spec sets none: 2^20 slots. */
export const DEFAULT_HASH_BITS = 20

/**
 * The built-in trainer a spec names, configured by it.
 * @example createTrainer({ type: 'linear', optimizer: 'ftrl', hashBits: 20 })
 */
export function createTrainer(spec: BuiltInTrainerSpec): Trainer {
  switch (spec.type) {
    case 'linear':
      return createLinearTrainer(spec)
    case 'naive-bayes':
      return createNaiveBayesTrainer(spec)
    case 'command':
      return createCommandTrainer(spec)
  }
}
