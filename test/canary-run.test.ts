import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { ingestFile } from '../src/data/ingest.js'
import { Worker } from '../src/orchestration/worker.js'
import { activeCanary, checkCanaries } from '../src/serving/canary.js'
import { fixtureConfig, learnableCsv } from './support/trained-model.js'
import { tempPlatform } from './support/workspace.js'

// With `deploy.canary`, a run's passing candidate does not replace production: it becomes a canary on a share of
// traffic, which the watcher promotes after its bake (or rolls back).
describe('a run of a pipeline with a canary policy', () => {
  let platform: Platform
  let dispose: () => Promise<void>
  beforeAll(async () => {
    let dir: string
    ;({ platform, dispose, dir } = await tempPlatform({
      ...fixtureConfig,
      pipelines: { p: { ...fixtureConfig.pipelines.p, deploy: { canary: { percent: 25, bake: '1h', minFeedback: 1 } } } },
    }))
    await writeFile(path.join(dir, 'd.csv'), learnableCsv(300))
    await ingestFile(platform, 'd', path.join(dir, 'd.csv'))
  }, 60_000)
  afterAll(async () => dispose())

  it('deploys the first version to production, then starts a canary with the next one instead of moving production', async () => {
    const worker = new Worker(platform)
    await platform.runs.enqueue({ pipeline: 'p', trigger: { type: 'manual', actor: 'test' } })
    expect((await worker.runOnce())?.result).toBe('succeeded')
    expect(await platform.registry.alias('p', 'production')).toBe(1)

    const second = await platform.runs.enqueue({ pipeline: 'p', trigger: { type: 'manual', actor: 'test' } })
    expect((await worker.runOnce())?.result).toBe('succeeded')
    const run = await platform.runs.get(second.id)
    expect(run.outcome).toMatchObject({ modelVersion: 2, deployed: false, previousProduction: 1, canary: { version: 2, percent: 25 } })
    expect(run.steps.find((s) => s.name === 'deploy')).toMatchObject({ status: 'succeeded', details: { alias: 'candidate' } })
    expect(await platform.registry.alias('p', 'production')).toBe(1)
    expect(await platform.registry.alias('p', 'candidate')).toBe(2)
    expect(await activeCanary(platform.db, 'p')).toMatchObject({ version: 2, baselineVersion: 1, percent: 25 })

    // While it bakes, a third run registers its version but starts no second canary.
    const third = await platform.runs.enqueue({ pipeline: 'p', trigger: { type: 'manual', actor: 'test' } })
    expect((await worker.runOnce())?.result).toBe('succeeded')
    const step = (await platform.runs.get(third.id)).steps.find((s) => s.name === 'deploy')
    expect(step?.status).toBe('skipped')
    expect(String(step?.details.reason)).toContain('already has an active canary: v2')

    // Past the bake without feedback, the watcher extends once, then ends it inconclusive: production stays.
    const later = new Date(Date.now() + 2 * 3_600_000)
    await checkCanaries(platform, later)
    await checkCanaries(platform, new Date(later.getTime() + 2 * 3_600_000))
    expect(await activeCanary(platform.db, 'p')).toBeUndefined()
    expect(await platform.registry.alias('p', 'production')).toBe(1)
  }, 120_000)
})
