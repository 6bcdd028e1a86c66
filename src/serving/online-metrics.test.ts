import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Platform } from '../app/platform.js'
import { tempPlatform } from '../../test/support/workspace.js'
import { recordFeedback } from './feedback.js'
import { onlineMetrics } from './online-metrics.js'
import { PredictionLog } from './prediction-log.js'

let platform: Platform
let dispose: () => Promise<void>
beforeEach(async () => {
  ;({ platform, dispose } = await tempPlatform({}))
})
afterEach(async () => {
  await dispose()
})

const t0 = Date.parse('2024-03-01T12:00:00.000Z')
let clock = t0
let served = 0

/** Serves `predictions` (one request) as `version` at the clock, and labels those with a label. */
async function serve(
  log: PredictionLog,
  pipeline: string,
  version: number,
  predictions: number[],
  labels: (number | null)[],
) {
  const ids = predictions.map(() => `${pipeline}-${version}-${served++}`)
  log.admit(ids.length, 10)
  log.append(
    pipeline,
    version,
    ids,
    predictions,
    predictions.map(() => ({})),
    undefined,
    10,
  )
  await log.flush()
  const items = ids.flatMap((id, i) => (labels[i] === null ? [] : [{ predictionId: id, label: labels[i]! }]))
  if (items.length > 0)
    await recordFeedback(platform.db, pipeline, items, {
      now: new Date(clock),
      horizonMs: 86_400_000,
      horizon: '1d',
    })
}

describe('onlineMetrics', () => {
  it('computes AUC, log loss, accuracy and the error rate per version over the window, from labelled predictions only', async () => {
    const log = new PredictionLog(platform.db, { flushIntervalMs: 3_600_000, now: () => new Date(clock) })
    // Two hours before the window: labelled, but outside it.
    clock = t0 - 2 * 3_600_000
    await serve(log, 'p', 1, [0.1], [1])
    clock = t0 + 60_000
    await serve(log, 'p', 1, [0.9, 0.8, 0.3, 0.2], [1, 0, 1, 0])
    await serve(log, 'p', 2, [0.6, 0.4], [1, 0])
    await serve(log, 'p', 2, [0.7], [null])
    log.count('p', 2, true)
    // Another pipeline's predictions do not count.
    await serve(log, 'other', 1, [0.99], [0])
    await log.close()

    const metrics = await onlineMetrics(platform.db, 'binary', {
      pipeline: 'p',
      since: new Date(t0),
      until: new Date(t0 + 3_600_000),
    })
    // v1 by hand: positives score 0.9 and 0.3, negatives 0.8 and 0.2: of the 4 pairs, 3 are ordered right.
    // Log loss: -(ln 0.9 + ln 0.2 + ln 0.3 + ln 0.8) / 4; at 0.5, 0.9 and 0.2 are right, 0.8 and 0.3 wrong.
    expect(metrics).toEqual([
      {
        version: 1,
        served: 4,
        labelled: 4,
        requests: 1,
        errors: 0,
        errorRate: 0,
        metrics: { auc: 0.75, logloss: expect.closeTo(0.785479, 5) as unknown, accuracy: 0.5 },
        sampled: false,
      },
      {
        version: 2,
        served: 3,
        labelled: 2,
        requests: 3,
        errors: 1,
        errorRate: expect.closeTo(1 / 3, 10) as unknown,
        metrics: { auc: 1, logloss: expect.closeTo(-Math.log(0.6), 10) as unknown, accuracy: 1 },
        sampled: false,
      },
    ])
  })

  it('says null where a metric cannot be computed, and computes RMSE and MAE for regression', async () => {
    const log = new PredictionLog(platform.db, { flushIntervalMs: 3_600_000, now: () => new Date(clock) })
    clock = t0
    await serve(log, 'r', 5, [1, 2, 4], [1, 3, 2])
    await serve(log, 'b', 1, [0.8, 0.6], [1, 1])
    await log.close()
    const window = { since: new Date(t0), until: new Date(t0 + 1) }
    const [regression] = await onlineMetrics(platform.db, 'regression', { pipeline: 'r', ...window })
    // Errors 0, 1, -2: RMSE sqrt(5/3), MAE 1.
    expect(regression?.metrics).toEqual({ rmse: expect.closeTo(Math.sqrt(5 / 3), 10) as unknown, mae: 1 })
    const [oneClass] = await onlineMetrics(platform.db, 'binary', { pipeline: 'b', ...window })
    expect(oneClass?.metrics).toEqual({
      auc: null,
      logloss: expect.closeTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 10) as unknown,
      accuracy: 1,
    })
    expect(await onlineMetrics(platform.db, 'binary', { pipeline: 'nothing', ...window })).toEqual([])
  })
})
