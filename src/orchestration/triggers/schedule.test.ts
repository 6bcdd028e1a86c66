import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Platform } from '../../app/platform.js'
import { tempPlatform } from '../../../test/support/workspace.js'
import { Schedule } from './schedule.js'
import type { ScheduleTriggerSpec } from './specs.js'

let platform: Platform
let dispose: () => Promise<void>

beforeEach(async () => {
  ;({ platform, dispose } = await tempPlatform({
    datasets: { d: {} },
    pipelines: {
      p: { dataset: 'd', task: 'binary', features: { x: { type: 'numeric' } }, trainer: { type: 'linear' } },
    },
  }))
})
afterEach(async () => dispose())

const daily: ScheduleTriggerSpec = { on: 'schedule', cron: '0 3 * * *', timezone: 'UTC' }
const at = (iso: string) => new Date(iso)
const scheduleRuns = async () =>
  (await platform.runs.list({ pipeline: 'p' })).filter((r) => r.trigger.type === 'schedule')

/** Lets a run end (its worker would), so its idempotency key no longer coalesces. */
async function finishAll(): Promise<void> {
  await platform.db.updateTable('runs').set({ state: 'succeeded' }).execute()
  await platform.db.updateTable('jobs').set({ state: 'succeeded' }).execute()
}

describe('schedule trigger', () => {
  it('fires when a cron time comes due on the injected clock, once per time', async () => {
    const schedule = new Schedule('p', daily)
    expect(await schedule.evaluate(platform, at('2026-03-01T02:59:59Z'))).toBeNull()
    const run = await schedule.evaluate(platform, at('2026-03-01T03:00:00.500Z'))
    expect(run).toMatchObject({
      trigger: { type: 'schedule', details: { scheduledAt: '2026-03-01T03:00:00.000Z', cron: '0 3 * * *' } },
      idempotencyKey: 'schedule:p:2026-03-01T03:00:00.000Z',
    })
    expect(await schedule.evaluate(platform, at('2026-03-01T03:00:01Z'))).toBeNull()
    expect(await schedule.evaluate(platform, at('2026-03-02T02:00:00Z'))).toBeNull()
    expect(await scheduleRuns()).toHaveLength(1)
  })

  it('reads cron times in the time zone', async () => {
    const schedule = new Schedule('p', { on: 'schedule', cron: '0 3 * * *', timezone: 'Europe/Paris' })
    expect(await schedule.evaluate(platform, at('2026-01-10T01:00:00Z'))).toBeNull()
    const run = await schedule.evaluate(platform, at('2026-01-10T02:00:01Z'))
    expect(run?.trigger.details).toMatchObject({
      scheduledAt: '2026-01-10T02:00:00.000Z',
      timezone: 'Europe/Paris',
    })
  })

  it('after a restart, times missed since the last scheduled run fire once at start', async () => {
    const first = new Schedule('p', daily)
    await first.evaluate(platform, at('2026-03-01T02:00:00Z'))
    expect(await first.evaluate(platform, at('2026-03-01T03:00:05Z'))).not.toBeNull()
    await finishAll()

    // Down from 1 March 03:00:05 to 4 March 12:00: the 2, 3 and 4 March times were missed.
    const restarted = new Schedule('p', daily)
    const run = await restarted.evaluate(platform, at('2026-03-04T12:00:00Z'))
    expect(run?.trigger.details).toMatchObject({ scheduledAt: '2026-03-04T03:00:00.000Z', missed: 3 })
    expect(await restarted.evaluate(platform, at('2026-03-04T12:00:01Z'))).toBeNull()
    await finishAll()
    expect(await new Schedule('p', daily).evaluate(platform, at('2026-03-04T13:00:00Z'))).toBeNull()
    expect(await scheduleRuns()).toHaveLength(2)
  })

  it('with catchUp: false, missed times do not fire; the next one does', async () => {
    const first = new Schedule('p', daily)
    await first.evaluate(platform, at('2026-03-01T02:00:00Z'))
    expect(await first.evaluate(platform, at('2026-03-01T03:00:05Z'))).not.toBeNull()
    await finishAll()

    const restarted = new Schedule('p', { ...daily, catchUp: false })
    expect(await restarted.evaluate(platform, at('2026-03-04T12:00:00Z'))).toBeNull()
    const next = await restarted.evaluate(platform, at('2026-03-05T03:00:00Z'))
    expect(next?.trigger.details).toMatchObject({ scheduledAt: '2026-03-05T03:00:00.000Z' })
    expect(await scheduleRuns()).toHaveLength(2)
  })

  it('a pipeline never scheduled before starts counting at its first evaluation', async () => {
    expect(await new Schedule('p', daily).evaluate(platform, at('2026-03-04T12:00:00Z'))).toBeNull()
    expect(await scheduleRuns()).toHaveLength(0)
  })

  it('a time missed while down before the first scheduled run fires at start: the first sighting is stored', async () => {
    // Seen on 4 March at noon, stopped before 5 March 03:00, started again on 6 March.
    expect(await new Schedule('p', daily).evaluate(platform, at('2026-03-04T12:00:00Z'))).toBeNull()
    const run = await new Schedule('p', daily).evaluate(platform, at('2026-03-06T09:00:00Z'))
    expect(run?.trigger.details).toMatchObject({ scheduledAt: '2026-03-06T03:00:00.000Z', missed: 2 })
    // Another pattern is another schedule, seen for the first time now.
    expect(await new Schedule('p', { ...daily, cron: '0 4 * * *' }).evaluate(platform, at('2026-03-06T09:00:00Z'))).toBeNull()
  })

  it('rejects a cron pattern or a time zone that is not valid, naming the pipeline', () => {
    expect(() => new Schedule('p', { on: 'schedule', cron: '61 * * * *' })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('pipelines.p.triggers') as unknown,
      }),
    )
    expect(() => new Schedule('p', { on: 'schedule', cron: '0 3 * * *', timezone: 'Mars/Olympus' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    )
  })
})
