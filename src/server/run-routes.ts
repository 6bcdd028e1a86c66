import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { followRun } from '../orchestration/follow.js'
import { isFinished, runIdPattern, type RunState } from '../orchestration/run-types.js'
import { runStatistics } from '../orchestration/statistics.js'
import { pipelineSpecOf } from '../training/train.js'

export interface RunEventStreamOptions {
  /** Event streams open at once; one more is answered 429 (default 64). */
  readonly maxStreams?: number
  /** Comment lines that keep proxies from closing an idle stream (default 15 s). */
  readonly heartbeatMs?: number
  /** How often a stream reads the database for events of workers in other processes (default 1 s). */
  readonly pollMs?: number
}

const runStates = new Set<string>(['queued', 'running', 'succeeded', 'failed', 'cancelled'])
/** A client that lets this much pile up unread is dropped rather than buffered without bound. */
const maxUnsentBytes = 1024 * 1024

const runIdOf = (params: unknown): string => {
  const id = (params as { id?: string }).id ?? ''
  if (!runIdPattern.test(id)) throw new FreshetError('RUN_NOT_FOUND', `there is no run ${JSON.stringify(id)}`)
  return id
}

const pipelineOf = (platform: Platform, params: unknown): string => {
  const name = (params as { name?: string }).name ?? ''
  assertName('pipeline', name)
  pipelineSpecOf(platform, name)
  return name
}

function textField(body: unknown, field: string, max: number): string | undefined {
  const value = (body as Record<string, unknown> | null | undefined)?.[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new FreshetError('USAGE', `${field}: expected a string`)
  const trimmed = value.trim()
  return trimmed === '' ? undefined : trimmed.slice(0, max)
}

const open = (raw: ServerResponse): boolean => !raw.writableEnded && !raw.destroyed

function send(raw: ServerResponse, event: string, data: unknown, id?: number): void {
  if (!open(raw)) return
  if (raw.writableLength > maxUnsentBytes) {
    raw.destroy()
    return
  }
  raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
}

/**
 * Runs: start one (authenticated, like every non-read route), cancel one, read them, and follow one as
 * Server-Sent Events. Live events come from the worker of this process (`freshet up`); events of a worker in
 * another process arrive from the database within `pollMs`.
 */
export function registerRunRoutes(
  app: FastifyInstance,
  platform: Platform,
  options: RunEventStreamOptions = {},
): void {
  const maxStreams = options.maxStreams ?? 64
  const streams = new Set<AbortController>()
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.abort()
    done()
  })

  app.get('/api/v1/pipelines/:name/runs', async (request) => {
    const pipeline = pipelineOf(platform, request.params)
    const query = request.query as { state?: string; limit?: string }
    if (query.state !== undefined && !runStates.has(query.state))
      throw new FreshetError('USAGE', `state: expected one of ${[...runStates].join(', ')}`)
    const limit = query.limit === undefined ? 50 : Number(query.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new FreshetError('USAGE', 'limit: expected an integer from 1 to 1000')
    return {
      pipeline,
      runs: await platform.runs.list({
        pipeline,
        limit,
        ...(query.state === undefined ? {} : { state: query.state as RunState }),
      }),
    }
  })

  app.post('/api/v1/pipelines/:name/runs', async (request, reply) => {
    const pipeline = pipelineOf(platform, request.params)
    const reason = textField(request.body, 'reason', 2000)
    const actor = textField(request.body, 'actor', 64)
    const key = request.headers['idempotency-key']
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 200))
      throw new FreshetError('USAGE', 'Idempotency-Key: expected 1-200 characters')
    const run = await platform.runs.enqueue({
      pipeline,
      trigger: {
        type: 'manual',
        actor: actor === undefined ? 'api' : `api:${actor}`,
        ...(reason === undefined ? {} : { reason }),
      },
      ...(key === undefined ? {} : { idempotencyKey: key }),
    })
    return reply.code(202).header('location', `/api/v1/runs/${run.id}`).send(run)
  })

  app.get('/api/v1/runs/:id', async (request) => {
    const run = await platform.runs.get(runIdOf(request.params))
    return { ...run, statistics: isFinished(run.state) ? runStatistics(run) : null }
  })

  app.post('/api/v1/runs/:id/cancel', async (request, reply) => {
    const id = runIdOf(request.params)
    const reason = textField(request.body, 'reason', 2000) ?? 'cancelled through the API'
    const actor = textField(request.body, 'actor', 64)
    const run = await platform.runs.cancel(id, {
      reason,
      actor: actor === undefined ? 'api' : `api:${actor}`,
    })
    return reply.code(202).send(run)
  })

  app.get('/api/v1/runs/:id/events', async (request, reply) => {
    const id = runIdOf(request.params)
    await platform.runs.get(id)
    if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').send()
    if (streams.size >= maxStreams) {
      throw new FreshetError(
        'OVERLOADED',
        `${streams.size} run event streams are open, the most this server serves at once`,
        { hint: 'close another stream, or poll GET /api/v1/runs/{id}' },
      )
    }
    const controller = new AbortController()
    streams.add(controller)
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    raw.write(': events of run ' + id + '\n\n')
    const heartbeat = setInterval(() => {
      if (open(raw)) raw.write(': heartbeat\n\n')
    }, options.heartbeatMs ?? 15_000)
    const onClose = () => controller.abort()
    raw.on('close', onClose)
    // A write to a connection the client just dropped must end this stream, not the process.
    raw.on('error', onClose)
    const lastEventId = Number(request.headers['last-event-id'])
    try {
      const run = await followRun(platform.runs, id, {
        afterSeq: Number.isSafeInteger(lastEventId) && lastEventId > 0 ? lastEventId : 0,
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
        signal: controller.signal,
        onEvent: (event) => send(raw, event.type, event, event.seq),
      })
      if (run !== undefined) send(raw, 'done', runStatistics(run))
    } catch (error) {
      send(
        raw,
        'error',
        isFreshetError(error)
          ? error.toJSON()
          : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) },
      )
    } finally {
      clearInterval(heartbeat)
      raw.off('close', onClose)
      raw.off('error', onClose)
      streams.delete(controller)
      if (!raw.writableEnded) raw.end()
    }
  })
}
