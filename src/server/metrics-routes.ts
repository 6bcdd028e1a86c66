import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Platform } from '../app/platform.js'
import { ServerMetrics } from '../monitoring/metrics.js'
import { modelMethodRoute } from './predict-routes.js'

const predictRoute = modelMethodRoute('predict')

/**
 * `GET /metrics` in the Prometheus text format (public, like every read), and the hooks that count every request
 * with its latency, and predict requests per pipeline and model version. Register it before the other routes.
 */
export function registerMetricsRoutes(app: FastifyInstance, platform: Platform): ServerMetrics {
  const metrics = new ServerMetrics(platform)
  const pipelines = new Set(Object.keys(platform.config.config.pipelines ?? {}))
  // What a predict answer said, taken before it is serialised: the version that answered and how many predictions.
  const answers = new WeakMap<FastifyRequest, { version: string; count: number }>()

  app.addHook('preSerialization', async (request, _reply, payload) => {
    if (
      request.routeOptions.url === predictRoute &&
      payload !== null &&
      typeof payload === 'object' &&
      'modelVersion' in payload
    ) {
      const answer = payload as { modelVersion: unknown; predictions?: unknown }
      answers.set(request, {
        version: String(answer.modelVersion),
        count: Array.isArray(answer.predictions) ? answer.predictions.length : 0,
      })
    }
    return payload
  })
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL, so labels stay few whatever clients request.
    const route = request.routeOptions.url ?? 'unmatched'
    const seconds = reply.elapsedTime / 1000
    const status = String(reply.statusCode)
    metrics.httpRequests.inc({ method: request.method, route, status_code: status })
    metrics.httpDuration.observe({ method: request.method, route }, seconds)
    if (route !== predictRoute) return
    const named = (request.params as { pipeline?: unknown } | undefined)?.pipeline
    const pipeline = typeof named === 'string' && pipelines.has(named) ? named : 'unknown'
    const answer = answers.get(request)
    const version = answer?.version ?? ''
    metrics.predictRequests.inc({ pipeline, version, status_code: status })
    if (answer !== undefined && reply.statusCode < 400) {
      metrics.predictDuration.observe({ pipeline, version }, seconds)
      metrics.predictions.inc({ pipeline, version }, answer.count)
    }
  })
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })
  return metrics
}
