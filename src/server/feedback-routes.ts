import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { activeCanary, canaryHistory } from '../serving/canary.js'
import { defaultFeedbackHorizon, feedbackHorizonMs, parseFeedback, recordFeedback } from '../serving/feedback.js'
import { onlineMetrics } from '../serving/online-metrics.js'
import type { Serving } from '../serving/serving.js'
import { pipelineSpecOf } from '../training/train.js'
import { modelMethodRoute } from './predict-routes.js'

/**
 * `POST /v1/models/{pipeline}:feedback` joins labels to logged predictions. It changes state, so unlike predict
 * it needs the bearer token (default-deny auth). Also the read-only views of what feedback yields:
 * `GET /api/v1/models/{pipeline}/online?window=1h` (online metrics per version) and
 * `GET /api/v1/models/{pipeline}/canaries` (the active canary and past ones).
 */
export function registerFeedbackRoutes(app: FastifyInstance, platform: Platform, serving: Serving): void {
  const pipelineOf = (params: unknown) => {
    const pipeline = (params as { pipeline: string }).pipeline
    assertName('pipeline', pipeline)
    return { pipeline, spec: pipelineSpecOf(platform, pipeline) }
  }

  app.post(modelMethodRoute('feedback'), async (request) => {
    const { pipeline, spec } = pipelineOf(request.params)
    const items = parseFeedback(request.body, spec.task, pipeline)
    // A prediction answered moments ago may still wait in the log: write it first so its label can join it.
    if (serving.log.waiting > 0) await serving.log.flush()
    return recordFeedback(platform.db, pipeline, items, { now: serving.now(), horizonMs: feedbackHorizonMs(spec), horizon: spec.deploy?.feedback?.horizon ?? defaultFeedbackHorizon })
  })

  app.get('/api/v1/models/:pipeline/online', async (request) => {
    const { pipeline, spec } = pipelineOf(request.params)
    const window = (request.query as { window?: string }).window ?? '1h'
    let windowMs: number
    try {
      windowMs = parseDuration(window)
    } catch {
      throw new FreshetError('USAGE', `window: expected a duration like 15m, 1h or 7d, got ${JSON.stringify(window)}`)
    }
    const until = serving.now()
    const since = new Date(until.getTime() - windowMs)
    const [versions, production, canary] = await Promise.all([
      onlineMetrics(platform.db, spec.task, { pipeline, since, until: new Date(until.getTime() + 1) }),
      platform.registry.alias(pipeline, 'production'),
      activeCanary(platform.db, pipeline),
    ])
    return { pipeline, task: spec.task, window, since: since.toISOString(), until: until.toISOString(), production: production ?? null, canary: canary ?? null, versions }
  })

  app.get('/api/v1/models/:pipeline/canaries', async (request) => {
    const { pipeline } = pipelineOf(request.params)
    const canaries = await canaryHistory(platform.db, pipeline)
    return { pipeline, active: canaries.find((c) => c.state === 'active') ?? null, canaries }
  })
}
