import type { Platform } from '../app/platform.js'
import { activeCanaryRoute } from './canary.js'
import { ModelCache } from './model-cache.js'
import { PredictionLog, type PredictionLogOptions } from './prediction-log.js'

/** Settings of a server's serving side (tests shrink them). */
export interface ServingOptions {
  readonly predictionLog?: PredictionLogOptions
  /** How often a pipeline's aliases and canary are re-read; default 500 ms (a move is served within 1 s). */
  readonly refreshMs?: number
  /** The clock of the prediction log and feedback (tests move it). */
  readonly now?: () => Date
}

/** What one server serves with: its model cache (production and canaries) and its prediction log. */
export interface Serving {
  readonly cache: ModelCache
  readonly log: PredictionLog
  readonly now: () => Date
}

export function createServing(platform: Platform, options: ServingOptions, report: (what: string, error: unknown, pipeline?: string) => void): Serving {
  const now = options.now ?? options.predictionLog?.now ?? (() => new Date())
  const cache = new ModelCache(platform.registry, platform.config.root, options.refreshMs ?? 500, (pipeline, error) => report('could not load a new model version; still serving the previous one', error, pipeline), async (pipeline) => activeCanaryRoute(platform.db, pipeline))
  const log = new PredictionLog(platform.db, { ...options.predictionLog, now, onError: (error) => report('could not write logged predictions; retrying', error) })
  return { cache, log, now }
}
