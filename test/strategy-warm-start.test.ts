import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { configFromObject, loadConfig } from '../src/config/load.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareSpam } from '../src/examples/spam.js'
import type { Run, RunTrigger } from '../src/orchestration/run-types.js'
import { Worker } from '../src/orchestration/worker.js'
import type { StrategyRecord } from '../src/training/run-training.js'
import { runCli } from './support/cli.js'

// Training strategies on SpamAssassin replayed in two halves: a full model on the first months, then a warm start
// from it on the later months only, through `freshet train --strategy warm-start` and through runs.

const spam = {
  dataset: 'emails',
  task: 'binary',
  features: { subject: { type: 'text' }, body: { type: 'text', maxTokens: 200 }, from_domain: { type: 'categorical' } },
  trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 18 },
  split: { by: 'time', holdout: 0.2 },
  gate: { metric: 'auc', min: 0.8 },
} as const
const config = {
  datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } },
  pipelines: { spam, fresh: { ...spam, training: { strategy: 'warm-start' } } },
} satisfies FreshetConfigInput

interface Lineage {
  strategy: StrategyRecord
  parentVersion: number | null
  batches: { id: string; rows: number }[]
  coveredBatches: string[]
  rows: { train: number; holdout: number; unlabelled: number }
}

let dir: string
let platform: Platform
let lateFiles: string[] = []

const usable = (b: { state: string }) => b.state === 'accepted' || b.state === 'released'

async function ingestAll(files: string[]): Promise<{ id: string; rows: number }[]> {
  const batches = []
  for (const file of files) {
    const { batch } = await ingestFile(platform, 'emails', file)
    if (usable(batch)) batches.push({ id: batch.id, rows: batch.rows })
  }
  return batches
}

async function run(pipeline: string, trigger: Partial<RunTrigger> = {}, on = platform): Promise<Run> {
  const queued = await on.runs.enqueue({ pipeline, trigger: { type: 'manual', actor: 'test', ...trigger } })
  await new Worker(on).runOnce()
  return on.runs.get(queued.id)
}

const lineageOf = (r: Run) => r.lineage as unknown as Lineage
let earlyBatches: { id: string; rows: number }[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-strategy-'))
  await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
  platform = await openPlatform(await loadConfig(dir))
  const report = await prepareSpam(path.join(dir, 'data'))
  const files = report.files.map((f) => f.path)
  const half = Math.ceil(files.length / 2)
  earlyBatches = await ingestAll(files.slice(0, half))
  lateFiles = files.slice(half)
}, 180_000)
afterAll(async () => {
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

describe('training strategies', () => {
  it('warm start continues from production on the batches it has not learned from, and records its parent', async () => {
    const first = await run('spam')
    expect(first.state, JSON.stringify(first.error)).toBe('succeeded')
    expect(lineageOf(first)).toMatchObject({ strategy: { requested: 'full', used: 'full', fallback: null }, parentVersion: null })
    expect(new Set(lineageOf(first).coveredBatches)).toEqual(new Set(earlyBatches.map((b) => b.id)))

    // The later months arrive; the operator asks for a warm start.
    const lateBatches = await ingestAll(lateFiles)
    expect(lateBatches.length).toBeGreaterThan(2)
    const cli = await runCli(['train', 'spam', '--strategy', 'warm-start', '--wait'], { cwd: dir })
    expect(cli.code, cli.stderr).toBe(0)
    expect(cli.stdout).toContain('strategy: warm start from v1 on the batches it had not learned from')
    expect(cli.stdout).toMatch(/auc: candidate 0\.\d{4}, production v1 0\.\d{4} on the same holdout/)
    const [second] = await platform.runs.list({ pipeline: 'spam', limit: 1 })
    if (second === undefined) throw new Error('no run')
    expect(second.trigger.details).toEqual({ strategy: 'warm-start' })
    expect(second.outcome).toMatchObject({ modelVersion: 2, deployed: true, previousProduction: 1 })
    const lineage = lineageOf(second)
    expect(lineage.strategy).toEqual({ requested: 'warm-start', used: 'warm-start', fallback: null })
    expect(lineage.parentVersion).toBe(1)
    // Trained and evaluated on the new batches only; every batch is now covered.
    expect(lineage.batches.map((b) => b.id).sort()).toEqual(lateBatches.map((b) => b.id).sort())
    expect(lineage.rows.train + lineage.rows.holdout + lineage.rows.unlabelled).toBe(lateBatches.reduce((n, b) => n + b.rows, 0))
    expect(new Set(lineage.coveredBatches)).toEqual(new Set([...earlyBatches, ...lateBatches].map((b) => b.id)))
    // The weights continue the parent's, so the features are the parent's fitted transform, unchanged.
    const [v1, v2] = await Promise.all([platform.registry.load('spam', 1), platform.registry.load('spam', 2)])
    expect(v2.manifest.transform).toEqual(v1.manifest.transform)
    const evaluate = second.steps.find((s) => s.name === 'evaluate')?.details as { metrics: { auc: number }; previous: { metrics: { auc: number } } }
    console.log(`warm start on the later months: v2 auc ${evaluate.metrics.auc.toFixed(4)} vs v1 ${evaluate.previous.metrics.auc.toFixed(4)} on the same holdout`)
    expect(evaluate.metrics.auc).toBeGreaterThan(0.9)
  }, 240_000)

  it('a warm start with nothing new to learn fails and says what to do', async () => {
    const again = await run('spam', { details: { strategy: 'warm-start' } })
    expect(again.state).toBe('failed')
    expect(again.error).toMatchObject({ code: 'NO_TRAINING_DATA', step: 'train' })
    expect(again.error?.message).toMatch(/no batches that production v2 has not learned from/)
    expect(again.error?.hint).toContain('--strategy full')
    expect(await platform.registry.alias('spam', 'production')).toBe(2)
  }, 180_000)

  it('falls back to full training, and says why, without a production model or with an incompatible one', async () => {
    const fresh = await run('fresh')
    expect(fresh.state, JSON.stringify(fresh.error)).toBe('succeeded')
    expect(lineageOf(fresh)).toMatchObject({
      strategy: { requested: 'warm-start', used: 'full', fallback: 'there is no production model to start from' },
      parentVersion: null,
    })
    const events = await platform.runs.events(fresh.id)
    expect(events.some((e) => e.type === 'phase' && e.message === 'warm start is not possible (there is no production model to start from): training from scratch (full)')).toBe(true)

    // The pipeline now hashes into fewer slots: production v2's weights cannot continue.
    const narrower = await openPlatform(configFromObject({ ...config, pipelines: { spam: { ...spam, trainer: { ...spam.trainer, hashBits: 16 } } } }, dir))
    try {
      const changed = await run('spam', { details: { strategy: 'warm-start' } }, narrower)
      expect(changed.state, JSON.stringify(changed.error)).toBe('succeeded')
      expect(lineageOf(changed)).toMatchObject({
        strategy: { requested: 'warm-start', used: 'full', fallback: 'production v2 hashes features into 2^18 slots and the pipeline now into 2^16' },
        parentVersion: null,
      })
    } finally {
      await narrower.close()
    }
  }, 180_000)

  it('the CLI refuses an unknown strategy as a usage error', async () => {
    const unknown = await runCli(['train', 'spam', '--strategy', 'incremental'], { cwd: dir })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('--strategy incremental: expected full, warm-start or online')
  })
})
