import { Cron } from 'croner'
import type { Platform } from '../../app/platform.js'
import { FreshetError } from '../../core/errors.js'
import type { Run } from '../run-types.js'
import type { ScheduleTriggerSpec } from './specs.js'

/** One pipeline's cron schedule. Croner only computes times here; the evaluator's clock decides when to look. */
export class Schedule {
  private readonly cron: Cron
  /** The latest scheduled time already handled (fired, or skipped because `catchUp` is false). */
  private cursor: Date | undefined

  /** @throws FreshetError `CONFIG_INVALID` when the cron pattern or the time zone is not valid */
  constructor(
    readonly pipeline: string,
    readonly trigger: ScheduleTriggerSpec,
  ) {
    try {
      this.cron = new Cron(trigger.cron, {
        paused: true,
        ...(trigger.timezone === undefined ? {} : { timezone: trigger.timezone }),
      })
      this.cron.nextRun(new Date(0))
    } catch (error) {
      throw new FreshetError(
        'CONFIG_INVALID',
        `pipelines.${pipeline}.triggers: the schedule ${JSON.stringify(trigger.cron)}${trigger.timezone === undefined ? '' : ` in ${trigger.timezone}`} is not valid: ${(error as Error).message}`,
        {
          cause: error,
          hint: 'write a cron pattern such as "0 3 * * *" and an IANA time zone such as "Europe/Paris"',
        },
      )
    }
  }

  /** The first scheduled time strictly after `after`. */
  next(after: Date): Date | null {
    return this.cron.nextRun(after)
  }

  /** The key of this schedule's stored cursor: a changed pattern or time zone starts a new one. */
  get key(): string {
    return this.trigger.timezone === undefined ? this.trigger.cron : `${this.trigger.cron} ${this.trigger.timezone}`
  }

  /**
   * Fires the run due at `now`, at most one per call: the latest scheduled time in (cursor, now]. The cursor is
   * stored (the latest scheduled time handled, or when the schedule was first seen) and, as a second source, read
   * from the pipeline's last scheduled run; a time missed while Freshet was down fires once then, unless
   * `catchUp` is false.
   * @returns the run enqueued (or coalesced into), or null when nothing was due
   */
  async evaluate(platform: Platform, now: Date): Promise<Run | null> {
    if (this.cursor === undefined) {
      const [stored, last] = await Promise.all([storedCursor(platform, this.pipeline, this.key), lastScheduledAt(platform, this.pipeline, this.trigger)])
      const known = [stored, last].filter((d) => d !== undefined).sort((a, b) => b.getTime() - a.getTime())[0]
      this.cursor = known === undefined || this.trigger.catchUp === false ? now : known
      if (stored === undefined || this.cursor !== stored) await storeCursor(platform, this.pipeline, this.key, this.cursor, now)
    }
    let due: Date | undefined
    let missed = 0
    // Bounded: a schedule every second missed for a long time is walked at most this many steps, then jumps.
    for (
      let next = this.next(this.cursor);
      next !== null && next <= now && missed < 10_000;
      next = this.next(next)
    ) {
      due = next
      missed++
    }
    if (missed === 10_000) due = this.cron.previousRuns(1, new Date(now.getTime() + 1))[0] ?? due
    if (due === undefined) return null
    const scheduledAt = due.toISOString()
    const run = await platform.runs.enqueue({
      pipeline: this.pipeline,
      trigger: {
        type: 'schedule',
        actor: 'scheduler',
        reason: missed > 1 ? `${scheduledAt} (catching up on ${missed} missed times)` : scheduledAt,
        details: {
          scheduledAt,
          cron: this.trigger.cron,
          ...(this.trigger.timezone === undefined ? {} : { timezone: this.trigger.timezone }),
          ...(missed > 1 ? { missed } : {}),
        },
      },
      idempotencyKey: `schedule:${this.pipeline}:${scheduledAt}`,
    })
    this.cursor = due
    await storeCursor(platform, this.pipeline, this.key, due, now)
    return run
  }
}

async function storedCursor(platform: Platform, pipeline: string, schedule: string): Promise<Date | undefined> {
  const row = await platform.db
    .selectFrom('schedule_cursors')
    .select('cursor_at')
    .where('pipeline', '=', pipeline)
    .where('schedule', '=', schedule)
    .executeTakeFirst()
  return row === undefined ? undefined : new Date(row.cursor_at)
}

async function storeCursor(platform: Platform, pipeline: string, schedule: string, at: Date, now: Date): Promise<void> {
  const values = { pipeline, schedule, cursor_at: at.toISOString(), updated_at: now.toISOString() }
  await platform.db
    .insertInto('schedule_cursors')
    .values(values)
    .onConflict((oc) => oc.columns(['pipeline', 'schedule']).doUpdateSet({ cursor_at: values.cursor_at, updated_at: values.updated_at }))
    .execute()
}

/** The scheduled time of the pipeline's latest run started by this schedule (cron and time zone). */
export async function lastScheduledAt(platform: Platform, pipeline: string, trigger?: ScheduleTriggerSpec): Promise<Date | undefined> {
  const rows = await platform.db
    .selectFrom('runs')
    .select('trigger_details')
    .where('pipeline', '=', pipeline)
    .where('trigger', '=', 'schedule')
    .orderBy('seq', 'desc')
    .limit(100)
    .execute()
  for (const row of rows) {
    if (row.trigger_details == null) continue
    const details = JSON.parse(row.trigger_details) as { scheduledAt?: unknown; cron?: unknown; timezone?: unknown }
    if (trigger !== undefined && (details.cron !== trigger.cron || details.timezone !== trigger.timezone)) continue
    const at = details.scheduledAt
    if (typeof at === 'string' && !Number.isNaN(Date.parse(at))) return new Date(at)
  }
  return undefined
}
