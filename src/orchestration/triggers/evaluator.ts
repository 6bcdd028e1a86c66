import type { Platform } from '../../app/platform.js'
import type { Run } from '../run-types.js'
import { evaluateDataTrigger, type DataDecision } from './data.js'
import { Schedule } from './schedule.js'
import { triggersOf } from './specs.js'

export type EvaluatorEvent =
  | {
      readonly type: 'run'
      readonly trigger: 'data' | 'schedule'
      readonly run: Run
      readonly decision?: DataDecision
    }
  | { readonly type: 'error'; readonly pipeline: string; readonly error: unknown }

export interface TriggerEvaluatorOptions {
  /** The clock that decides what is due (tests inject one). */
  readonly now?: () => Date
  /** How often every data and schedule trigger is evaluated (default 1000 ms). */
  readonly intervalMs?: number
  readonly onEvent?: (event: EvaluatorEvent) => void
}

/**
 * Evaluates the data and schedule triggers of every pipeline: on a timer, and whenever a dataset gets a batch
 * ({@link evaluateDataset}). Evaluations run one at a time; an error of one pipeline is reported and the others go on.
 * @throws FreshetError `CONFIG_INVALID` (from the constructor) for a cron pattern or time zone that is not valid
 */
export class TriggerEvaluator {
  private readonly now: () => Date
  private readonly intervalMs: number
  private readonly schedules: Schedule[]
  private chain: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly platform: Platform,
    private readonly options: TriggerEvaluatorOptions = {},
  ) {
    this.now = options.now ?? (() => new Date())
    this.intervalMs = options.intervalMs ?? 1000
    this.schedules = triggersOf(platform.config.config, 'schedule').map(
      (t) => new Schedule(t.pipeline, t.trigger),
    )
  }

  /** Evaluates at once (a missed schedule fires now), then every `intervalMs` until {@link stop}. */
  start(): void {
    if (this.timer !== undefined || this.stopped) return
    const tick = () => {
      void this.evaluate().then(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs)
      })
    }
    this.timer = setTimeout(tick, 0)
  }

  /** Every schedule, then every data trigger. Never rejects: errors go to `onEvent`. */
  evaluate(): Promise<void> {
    return this.serial(async () => {
      for (const schedule of this.schedules) {
        await this.guard(schedule.pipeline, async () => {
          const run = await schedule.evaluate(this.platform, this.now())
          if (run !== null) this.options.onEvent?.({ type: 'run', trigger: 'schedule', run })
        })
      }
      await this.evaluateData()
    })
  }

  /** The data triggers of the pipelines of `dataset` (after an ingest). Never rejects. */
  evaluateDataset(dataset: string): Promise<void> {
    return this.serial(() => this.evaluateData(dataset))
  }

  /** Stops the timer and waits for the evaluation in progress. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.chain
  }

  private async evaluateData(dataset?: string): Promise<void> {
    for (const { pipeline, spec, trigger } of triggersOf(this.platform.config.config, 'data')) {
      if (dataset !== undefined && spec.dataset !== dataset) continue
      await this.guard(pipeline, async () => {
        const decision = await evaluateDataTrigger(this.platform, pipeline, spec.dataset, trigger, this.now())
        if (decision.run !== null)
          this.options.onEvent?.({ type: 'run', trigger: 'data', run: decision.run, decision })
      })
    }
  }

  private serial(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(() => (this.stopped ? undefined : work()))
    this.chain = next.catch(() => undefined)
    return this.chain
  }

  private async guard(pipeline: string, work: () => Promise<void>): Promise<void> {
    try {
      await work()
    } catch (error) {
      this.options.onEvent?.({ type: 'error', pipeline, error })
    }
  }
}
