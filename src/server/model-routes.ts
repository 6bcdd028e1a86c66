import type { FastifyInstance } from 'fastify'
import type { Platform } from '../app/platform.js'
import { assertName } from '../core/names.js'
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

/** Read-only views of pipelines and their models. */
export function registerModelRoutes(app: FastifyInstance, platform: Platform): void {
  app.get('/api/v1/pipelines', async () => ({ pipelines: await pipelineSummaries(platform) }))
  app.get('/api/v1/models/:pipeline/versions', async (request) => {
    const pipeline = (request.params as { pipeline: string }).pipeline
    assertName('pipeline', pipeline)
    pipelineSpecOf(platform, pipeline)
    const [versions, aliases, history] = await Promise.all([platform.registry.versions(pipeline), platform.registry.aliases(pipeline), platform.registry.history(pipeline)])
    return { pipeline, aliases, versions, history }
  })
}
