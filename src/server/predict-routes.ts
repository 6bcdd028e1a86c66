import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { createServing, type Serving, type ServingOptions } from '../serving/serving.js'
import { pipelineSpecOf } from '../training/train.js'

// A response schema lets Fastify serialise answers with a compiled serializer instead of JSON.stringify.
const predictionSchema = {
  type: 'object',
  properties: {
    predictions: { type: 'array', items: { type: 'number' } },
    modelVersion: { type: 'integer' },
    predictionIds: { type: 'array', items: { type: 'string' } },
  },
  required: ['predictions', 'modelVersion', 'predictionIds'],
} as const

/** At most this many instances in one predict request. */
export const maxInstances = 1000
/** Longest request key (sticky canary routing). */
export const maxKeyLength = 256

/**
 * `/v1/models/{pipeline}:{method}`: Fastify cannot put a literal ':' after a plain parameter, but it can after one
 * with a pattern (`::` is a literal colon).
 */
export const modelMethodRoute = (method: string): string => `/v1/models/:pipeline(^[^:]+)::${method}`

/** The request key of a predict request: the `x-freshet-key` header, else the body's `key`. */
function requestKey(request: FastifyRequest, body: { key?: unknown }): string | undefined {
  const header = request.headers['x-freshet-key']
  const raw = typeof header === 'string' ? header : body.key
  if (raw === undefined || raw === null) return undefined
  if ((typeof raw !== 'string' && typeof raw !== 'number') || String(raw).length === 0 || String(raw).length > maxKeyLength) {
    throw new FreshetError('USAGE', `key: expected a string of 1 to ${maxKeyLength} characters (the x-freshet-key header or "key" in the body), got ${JSON.stringify(raw)?.slice(0, 80) ?? 'nothing'}`)
  }
  return String(raw)
}

/**
 * `POST /v1/models/{pipeline}:predict` in the TF Serving / Vertex / KServe v1 shape. Scoring changes no model
 * state, so it is open like the reads; it is marked `public` for the default-deny auth hook. A request is served
 * by production or, for the canary's share, by the canary (sticky by the request key when one is given); every
 * prediction is logged (see `PredictionLog`), and when the log is full the answer is 429 before scoring.
 * Returns the serving state, which the feedback routes share.
 */
export function registerPredictRoutes(app: FastifyInstance, platform: Platform, options: ServingOptions = {}): Serving {
  const serving = createServing(platform, options, (what, error, pipeline) => app.log.error({ pipeline, err: error }, what))
  const { cache, log } = serving
  app.addHook('onClose', async () => log.close())

  app.post(modelMethodRoute('predict'), { config: { public: true }, schema: { response: { 200: predictionSchema } } }, async (request, reply) => {
    const pipeline = (request.params as { pipeline: string }).pipeline
    assertName('pipeline', pipeline)
    pipelineSpecOf(platform, pipeline)
    const body = request.body as { instances?: unknown; key?: unknown } | null
    if (body === null || typeof body !== 'object' || !('instances' in body)) {
      throw new FreshetError('INVALID_INSTANCE', 'the body must be a JSON object {"instances": [...]}')
    }
    const instances = body.instances
    if (Array.isArray(instances) && instances.length > maxInstances) {
      throw new FreshetError('INPUT_TOO_LARGE', `instances: at most ${maxInstances} per request, got ${instances.length}`)
    }
    const key = requestKey(request, body)
    const predictor = await cache.route(pipeline, key)
    const count = Array.isArray(instances) ? instances.length : 0
    const bytes = Number(request.headers['content-length'] ?? 0) || count * 1024
    try {
      log.admit(count, bytes)
    } catch (error) {
      void reply.header('retry-after', '1')
      throw error
    }
    let prediction
    try {
      prediction = predictor.predict(instances)
    } catch (error) {
      log.count(pipeline, predictor.version, true)
      throw error
    }
    log.append(pipeline, prediction.modelVersion, prediction.predictionIds, prediction.predictions, instances as unknown[], key, bytes)
    return prediction
  })

  // Any other method, or none: a clear 400 rather than a bare 404.
  app.post('/v1/models/:target', { config: { public: true } }, (request) => {
    const target = (request.params as { target: string }).target
    const colon = target.lastIndexOf(':')
    const verb = colon < 0 ? '' : target.slice(colon + 1)
    // A known method lands here only when the pipeline part is not a name (it holds a ':').
    if (verb === 'predict' || verb === 'feedback') assertName('pipeline', target.slice(0, colon))
    throw new FreshetError('USAGE', `no such model method ${JSON.stringify(verb)}: use POST /v1/models/{pipeline}:predict or :feedback`)
  })
  return serving
}
