import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import {
  maxIdempotencyKeyLength,
  parseNdjson,
  publishIncoming,
  topicOverview,
  topicSpecOf,
  type IncomingEvent,
} from '../streaming/topics.js'

/** Most events one publish request may carry (one append of the log). */
export const maxEventsPerRequest = 10_000

const ndjsonTypes = [
  'application/x-ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
]

/** An NDJSON body, parsed line by line so that a bad line is dead-lettered rather than failing the request. */
interface NdjsonBody {
  readonly ndjson: IncomingEvent[]
}

/**
 * Topics: `POST /api/v1/topics/{topic}/events` publishes a JSON array of events, or NDJSON
 * (`Content-Type: application/x-ndjson`), within the server's body limit; it changes state, so the default-deny
 * auth asks for the bearer token. Events that do not fit the topic's schema go to `<topic>.dead-letter` with the
 * reasons; the answer counts both. An `Idempotency-Key` header makes a retry store nothing twice. A full topic
 * answers 429 with `Retry-After`, having stored nothing. `GET /api/v1/topics` and `GET /api/v1/topics/{topic}`
 * show offsets, backlog, consumers and dead letters.
 */
export function registerTopicRoutes(app: FastifyInstance, platform: Platform): void {
  void app.register((scope, _options, done) => {
    scope.addContentTypeParser(ndjsonTypes, { parseAs: 'string' }, (_request, body, done) => {
      done(null, { ndjson: parseNdjson(String(body)) } satisfies NdjsonBody)
    })

    scope.post('/api/v1/topics/:topic/events', async (request, reply) => {
      const topic = (request.params as { topic: string }).topic
      topicSpecOf(platform.config, topic)
      const incoming = incomingOf(request.body)
      if (incoming.length > maxEventsPerRequest) {
        throw new FreshetError(
          'INPUT_TOO_LARGE',
          `a publish request holds ${incoming.length} events, more than the ${maxEventsPerRequest} allowed`,
          {
            hint: `send at most ${maxEventsPerRequest} events per request`,
          },
        )
      }
      const header = request.headers['idempotency-key']
      if (
        header !== undefined &&
        (typeof header !== 'string' || header.length === 0 || header.length > maxIdempotencyKeyLength)
      ) {
        throw new FreshetError(
          'USAGE',
          `the Idempotency-Key header must be one value of 1 to ${maxIdempotencyKeyLength} characters`,
        )
      }
      try {
        return await publishIncoming(
          platform,
          topic,
          incoming,
          header === undefined ? {} : { idempotencyKey: header },
        )
      } catch (error) {
        if (isFreshetError(error, 'OVERLOADED')) void reply.header('retry-after', '1')
        throw error
      }
    })

    scope.get('/api/v1/topics', async () => ({
      topics: await Promise.all(
        Object.keys(platform.config.config.topics ?? {}).map((name) => topicOverview(platform, name)),
      ),
    }))
    scope.get('/api/v1/topics/:topic', async (request) =>
      topicOverview(platform, (request.params as { topic: string }).topic),
    )
    done()
  })
}

function incomingOf(body: unknown): IncomingEvent[] {
  if (body !== null && typeof body === 'object' && 'ndjson' in body) return (body as NdjsonBody).ndjson
  if (Array.isArray(body)) return body.map((value: unknown) => ({ value }))
  throw new FreshetError(
    'USAGE',
    'the body must be a JSON array of events, or NDJSON with Content-Type: application/x-ndjson',
    {
      hint: 'send [{"field": "value", ...}, ...], or one JSON object per line',
    },
  )
}
