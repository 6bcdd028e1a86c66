import Fastify, { type FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { schemaVersions } from '../data/batches.js'
import { datasetSpecOf } from '../data/datasets.js'
import { datasetOverview } from '../data/overview.js'
import { installAuth } from './auth.js'
import { registerFeedbackRoutes } from './feedback-routes.js'
import type { DatasetSummary } from './home.js'
import { registerMetricsRoutes } from './metrics-routes.js'
import { registerMonitoringRoutes } from './monitoring-routes.js'
import { pipelineSummaries, registerModelRoutes } from './model-routes.js'
import { registerPredictRoutes } from './predict-routes.js'
import { registerQuarantineRoutes } from './quarantine-routes.js'
import { registerRunRoutes, type RunEventStreamOptions } from './run-routes.js'
import { registerDashboard } from './static.js'
import { registerTopicRoutes } from './topic-routes.js'
import { registerStreamRoutes } from './stream-routes.js'
import type { ServingOptions } from '../serving/serving.js'

export interface ServerOptions {
  readonly token?: string | undefined
  readonly bodyLimit?: number
  readonly logger?: boolean
  /** Limits and timings of the run event streams (SSE). */
  readonly runEvents?: RunEventStreamOptions
  /** Prediction log limits, model refresh interval and clock of the serving routes. */
  readonly serving?: ServingOptions
}

/** Builds the HTTP app: health, the read-only data API and the status page. */
export async function buildServer(platform: Platform, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimit ?? 1024 * 1024 })
  installAuth(app, options.token)
  registerMetricsRoutes(app, platform)
  app.setErrorHandler((error, _request, reply) => {
    if (isFreshetError(error)) return reply.code(error.httpStatus).send(error.toJSON())
    const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500
    return reply.code(status).send({ code: status === 500 ? 'INTERNAL' : status === 413 ? 'INPUT_TOO_LARGE' : 'BAD_REQUEST', message: (error as Error).message })
  })

  const datasetName = (params: unknown): string => {
    const name = (params as { name?: string }).name ?? ''
    assertName('dataset', name)
    datasetSpecOf(platform.config, name)
    return name
  }

  registerFeedbackRoutes(app, platform, registerPredictRoutes(app, platform, options.serving))
  registerModelRoutes(app, platform)
  registerQuarantineRoutes(app, platform)
  registerRunRoutes(app, platform, options.runEvents)
  registerMonitoringRoutes(app, platform)
  registerTopicRoutes(app, platform)
  registerStreamRoutes(app, platform)
  app.get('/healthz', () => ({ status: 'ok' }))
  app.get('/api/v1/datasets', async () => {
    const names = Object.keys(platform.config.config.datasets ?? {})
    return { datasets: await Promise.all(names.map(async (name) => summary(platform, name))) }
  })
  app.get('/api/v1/datasets/:name', async (request) => datasetOverview(platform, datasetName(request.params)))
  app.get('/api/v1/datasets/:name/batches', async (request) => ({ batches: (await datasetOverview(platform, datasetName(request.params))).batches }))
  app.get('/api/v1/datasets/:name/schema', async (request) => ({ versions: await schemaVersions(platform.db, datasetName(request.params)) }))
  registerDashboard(app, {
    status: async () => {
      const names = Object.keys(platform.config.config.datasets ?? {})
      return { datasets: await Promise.all(names.map(async (name) => summary(platform, name))), pipelines: await pipelineSummaries(platform) }
    },
  })
  app.setNotFoundHandler(async (request, reply) => reply.code(404).send(new FreshetError('USAGE', `no route ${request.method} ${request.url}`).toJSON()))
  await app.ready()
  return app
}


async function summary(platform: Platform, name: string): Promise<DatasetSummary> {
  const rows = await platform.db.selectFrom('batches').select(['state', 'row_count', 'created_at', 'schema_version']).where('dataset', '=', name).execute()
  const states: Record<string, number> = {}
  for (const row of rows) states[row.state] = (states[row.state] ?? 0) + 1
  return {
    name,
    batches: rows.length,
    rows: rows.filter((r) => r.state === 'accepted' || r.state === 'released').reduce((sum, r) => sum + Number(r.row_count), 0),
    states,
    schemaVersion: rows.length === 0 ? null : Math.max(...rows.map((r) => Number(r.schema_version))),
    lastIngestedAt: rows.map((r) => r.created_at).sort().at(-1) ?? null,
  }
}
