import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Platform } from '../../app/platform.js'
import { tempPlatform } from '../../../test/support/workspace.js'
import { TriggerEvaluator, type EvaluatorEvent } from './evaluator.js'

let platform: Platform
let dispose: () => Promise<void>
const pipeline = {
  dataset: 'd',
  task: 'binary',
  features: { x: { type: 'numeric' } },
  trainer: { type: 'linear' },
} as const

beforeEach(async () => {
  ;({ platform, dispose } = await tempPlatform({
    datasets: { d: {} },
    pipelines: {
      hourly: { ...pipeline, triggers: [{ on: 'schedule', cron: '0 * * * *', timezone: 'UTC' }] },
      fresh: { ...pipeline, triggers: [{ on: 'data', minNewRows: 10 }] },
      manual: pipeline,
    },
  }))
})
afterEach(async () => dispose())

describe('trigger evaluator', () => {
  it('fires schedules due on its clock, once, and reports what it queued', async () => {
    let clock = new Date('2026-03-01T10:30:00Z')
    const events: EvaluatorEvent[] = []
    const evaluator = new TriggerEvaluator(platform, { now: () => clock, onEvent: (e) => events.push(e) })
    await evaluator.evaluate()
    expect(events).toEqual([])
    clock = new Date('2026-03-01T11:00:01Z')
    await evaluator.evaluate()
    await evaluator.evaluate()
    expect(events).toMatchObject([
      {
        type: 'run',
        trigger: 'schedule',
        run: { pipeline: 'hourly', trigger: { details: { scheduledAt: '2026-03-01T11:00:00.000Z' } } },
      },
    ])
    expect((await platform.runs.list()).map((r) => r.pipeline)).toEqual(['hourly'])
    await evaluator.stop()
  })

  it('refuses a configuration with a cron pattern it cannot read', async () => {
    const bad = await tempPlatform({
      datasets: { d: {} },
      pipelines: { p: { ...pipeline, triggers: [{ on: 'schedule', cron: 'every day' }] } },
    })
    try {
      expect(() => new TriggerEvaluator(bad.platform)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      )
    } finally {
      await bad.dispose()
    }
  })
})
