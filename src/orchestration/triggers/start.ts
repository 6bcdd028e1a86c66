import type { Platform } from '../../app/platform.js'
import { TriggerEvaluator, type EvaluatorEvent } from './evaluator.js'
import { LandingWatcher, type LandingEvent } from './landing.js'

export interface TriggersOptions {
  readonly now?: () => Date
  /** Landing folders are listed this often (default 1000 ms). */
  readonly pollMs?: number
  /** Data and schedule triggers are evaluated this often (default 1000 ms), and after every ingest. */
  readonly intervalMs?: number
  readonly onLanding?: (event: LandingEvent) => void
  readonly onTrigger?: (event: EvaluatorEvent) => void
}

/** The running triggers of `freshet up`: the landing watcher and the data/schedule evaluator. */
export interface RunningTriggers {
  readonly watcher: LandingWatcher
  readonly evaluator: TriggerEvaluator
  /** Stops both and waits for what they were doing (an ingest in progress is cancelled, its file left in place). */
  stop(): Promise<void>
}

/**
 * Starts the storage, data and schedule triggers of the configuration.
 * @throws FreshetError `CONFIG_INVALID` for a schedule whose cron pattern or time zone is not valid
 */
export function startTriggers(platform: Platform, options: TriggersOptions = {}): RunningTriggers {
  const clock = options.now === undefined ? {} : { now: options.now }
  const evaluator = new TriggerEvaluator(platform, {
    ...clock,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    ...(options.onTrigger === undefined ? {} : { onEvent: options.onTrigger }),
  })
  const watcher = new LandingWatcher(platform, {
    ...clock,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.onLanding === undefined ? {} : { onEvent: options.onLanding }),
    afterIngest: (dataset) => evaluator.evaluateDataset(dataset),
  })
  evaluator.start()
  watcher.start()
  return {
    watcher,
    evaluator,
    async stop() {
      await watcher.stop()
      await evaluator.stop()
    },
  }
}
