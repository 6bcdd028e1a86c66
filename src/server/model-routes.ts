import type { FastifyInstance, FastifyRequest } from 'fastify'
import * as z from 'zod'
import type { Platform } from '../app/platform.js'
import { strict } from '../config/zod-helpers.js'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import { deployVersion, maxReasonLength, parsePointInTime, rollbackProduction } from '../registry/deploys.js'
import { pipelineSpecOf } from '../training/train.js'

export interface PipelineSummary {
  name: string
  dataset: string
  mode: string
  task: string
  production: number | null
  versions: number
  /** The production model's headline metrics. */
  metrics: Record<string, unknown> | null
  lastTrainedAt: string | null
}

export async function pipelineSummaries(platform: Platform): Promise<PipelineSummary[]> {
  return Promise.all(
    Object.entries(platform.config.config.pipelines ?? {}).map(async ([name, spec]) => {
      const versions = await platform.registry.versions(name)
      const production = (await platform.registry.alias(name, 'production')) ?? null
      return {
        name,
        dataset: spec.dataset,
        mode: spec.mode ?? 'static',
        task: spec.task,
        production,
        versions: versions.length,
        metrics: versions.find((v) => v.version === production)?.metrics ?? null,
        lastTrainedAt: versions.at(-1)?.createdAt ?? null,
      }
    }),
  )
}

const versionNumber = z
  .number({ error: 'expected a version number' })
  .int({ error: 'expected a whole version number' })
  .min(1, { error: 'expected a version number from 1' })
  .max(2 ** 31 - 1, { error: 'expected a version number' })
const reason = z
  .string({ error: 'expected a string saying why' })
  .max(maxReasonLength, { error: `at most ${maxReasonLength} characters` })
const expectedVersion = z
  .number({ error: 'required: the version number the alias points at now, or null when it points at none' })
  .int({ error: 'expected a whole version number' })
  .min(1, { error: 'expected a version number from 1' })
  .max(2 ** 31 - 1, { error: 'expected a version number' })
const moveBody = strict({
  version: versionNumber,
  expected: expectedVersion.nullable(),
  reason,
  force: z.boolean({ error: 'expected true or false' }).optional(),
})
const rollbackBody = strict({ to: versionNumber.optional(), expected: versionNumber.optional(), reason })
/** The bodies are a few fields: anything larger is refused before it is parsed. */
const smallBody = { bodyLimit: 16 * 1024 }

function parseBody<T>(schema: z.ZodType<T>, body: unknown, route: string): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new FreshetError('USAGE', `${route}: the body must be a JSON object; nothing was changed`)
  const parsed = schema.safeParse(body)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues
    .map((i) => `${i.path.length === 0 ? 'body' : i.path.join('.')}: ${i.message}`)
    .join('; ')
  throw new FreshetError('USAGE', `${route}: ${problems}; nothing was changed`)
}

/**
 * Who the history records for an API move: `api`, plus the name a client gives in `x-freshet-actor`, kept to
 * letters, digits and `._@-` (at most 64). The bearer token is what authorises the move; the name only labels it.
 */
export function apiActor(request: FastifyRequest): string {
  const header = request.headers['x-freshet-actor']
  const given = (Array.isArray(header) ? header[0] : header) ?? ''
  const name = given.replace(/[^A-Za-z0-9._@-]/g, '').slice(0, 64)
  return name === '' ? 'api' : `api:${name}`
}

/** Views of pipelines and their models, and (authenticated, like every non-read route) alias moves and rollback. */
export function registerModelRoutes(app: FastifyInstance, platform: Platform): void {
  const pipelineOf = (params: unknown): string => {
    const pipeline = (params as { pipeline?: string }).pipeline ?? ''
    assertName('pipeline', pipeline)
    pipelineSpecOf(platform, pipeline)
    return pipeline
  }
  const aliasOf = (params: unknown): string => assertName('alias', (params as { alias?: string }).alias ?? '')

  app.get('/api/v1/pipelines', async () => ({ pipelines: await pipelineSummaries(platform) }))
  app.get('/api/v1/models/:pipeline/versions', async (request) => {
    const pipeline = (request.params as { pipeline: string }).pipeline
    assertName('pipeline', pipeline)
    pipelineSpecOf(platform, pipeline)
    const [versions, aliases, history] = await Promise.all([
      platform.registry.versions(pipeline),
      platform.registry.aliases(pipeline),
      platform.registry.history(pipeline),
    ])
    return { pipeline, aliases, versions, history }
  })

  // ?at=<ISO time or duration ago> answers which version the alias pointed at then.
  app.get('/api/v1/models/:pipeline/aliases/:alias', async (request) => {
    const pipeline = pipelineOf(request.params)
    const alias = aliasOf(request.params)
    const atText = (request.query as { at?: unknown }).at
    if (atText !== undefined && typeof atText !== 'string')
      throw new FreshetError('USAGE', 'at: give one time, like 2025-03-01T10:00:00Z or 2h')
    const at = atText === undefined ? undefined : parsePointInTime(atText)
    const [version, history] = await Promise.all([
      at === undefined
        ? platform.registry.alias(pipeline, alias)
        : platform.registry.aliasAt(pipeline, alias, at),
      platform.registry.aliasHistory(pipeline, alias),
    ])
    return {
      pipeline,
      alias,
      ...(at === undefined ? {} : { at: at.toISOString() }),
      version: version ?? null,
      history,
    }
  })

  app.put('/api/v1/models/:pipeline/aliases/:alias', smallBody, async (request) => {
    const pipeline = pipelineOf(request.params)
    const alias = aliasOf(request.params)
    const body = parseBody(moveBody, request.body, `PUT /api/v1/models/${pipeline}/aliases/${alias}`)
    return deployVersion(platform.registry, {
      pipeline,
      alias,
      version: body.version,
      expected: body.expected,
      actor: apiActor(request),
      reason: body.reason,
      ...(body.force === true ? { force: true } : {}),
    })
  })

  app.post('/api/v1/models/:pipeline/rollback', smallBody, async (request) => {
    const pipeline = pipelineOf(request.params)
    const body = parseBody(rollbackBody, request.body, `POST /api/v1/models/${pipeline}/rollback`)
    return rollbackProduction(platform.registry, {
      pipeline,
      actor: apiActor(request),
      reason: body.reason,
      ...(body.to === undefined ? {} : { to: body.to }),
      ...(body.expected === undefined ? {} : { expected: body.expected }),
    })
  })
}
