import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { ModelCache } from '../serving/model-cache.js'
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

/**
 * `POST /v1/models/{pipeline}:predict` in the TF Serving / Vertex / KServe v1 shape. Scoring changes no state,
 * so it is open like the reads; it is marked `public` for the default-deny auth hook.
 */
export function registerPredictRoutes(app: FastifyInstance, platform: Platform, cache = new ModelCache(platform.registry, platform.config.root, 1000, (pipeline, error) => app.log.error({ pipeline, err: error }, 'could not load the new production model; still serving the previous one'))): void {
  // Fastify cannot put a literal ':' after a parameter, so `{pipeline}:{verb}` is one segment split here.
  app.post('/v1/models/:target', { config: { public: true }, schema: { response: { 200: predictionSchema } } }, async (request) => {
    const target = (request.params as { target: string }).target
    const colon = target.lastIndexOf(':')
    const pipeline = colon < 0 ? target : target.slice(0, colon)
    const verb = colon < 0 ? '' : target.slice(colon + 1)
    if (verb !== 'predict') throw new FreshetError('USAGE', `no such model method ${JSON.stringify(verb)}: use POST /v1/models/{pipeline}:predict`)
    assertName('pipeline', pipeline)
    pipelineSpecOf(platform, pipeline)
    const body = request.body as { instances?: unknown } | null
    if (body === null || typeof body !== 'object' || !('instances' in body)) {
      throw new FreshetError('INVALID_INSTANCE', 'the body must be a JSON object {"instances": [...]}')
    }
    if (Array.isArray(body.instances) && body.instances.length > maxInstances) {
      throw new FreshetError('INPUT_TOO_LARGE', `instances: at most ${maxInstances} per request, got ${body.instances.length}`)
    }
    const predictor = await cache.production(pipeline)
    return predictor.predict(body.instances)
  })
}
