import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { configFromObject } from '../src/config/load.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { packageRoot } from '../src/core/package-root.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareSpam } from '../src/examples/spam.js'
import type { Run } from '../src/orchestration/run-types.js'
import { Worker } from '../src/orchestration/worker.js'
import type { InfraCheckResult } from '../src/training/infra-check.js'
import { trainAndRegister } from '../src/training/train.js'

// The infra check on SpamAssassin: a candidate whose artifact cannot serve (it only works inside the process that
// trained it) passes its gate, is registered as rejected with the reason, and production does not move.

const spam = {
  dataset: 'emails',
  task: 'binary',
  features: { subject: { type: 'text' }, body: { type: 'text', maxTokens: 200 }, from_domain: { type: 'categorical' } },
  trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 18 },
  split: { by: 'time', holdout: 0.2 },
  gate: { metric: 'auc', min: 0.9 },
} as const
const configOf = (pipeline: Record<string, unknown>): FreshetConfigInput =>
  ({ datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } }, pipelines: { spam: { ...spam, ...pipeline } } })

let dir: string
let platform: Platform

/**
 * A trainer with a classic serving bug: it keeps the real weights in a module variable and writes NaN weights to
 * the artifact, so it evaluates well in the training process and answers `onServe` in any other. AdaGrad, because
 * FTRL's lazy weights would turn NaN state into zero weights (a constant 0.5, finite, which no shape check sees).
 */
const leakyTrainer = (index: string, onServe: string) => `import { createTrainer } from ${JSON.stringify(index)}
const linear = createTrainer({ type: 'linear', optimizer: 'adagrad' })
let trained
export default {
  type: 'leaky',
  async fit(data, options) {
    trained = await linear.fit(data, options)
    const nan = Object.fromEntries(Object.entries(trained.arrays).map(([name, a]) => [name, new Float64Array(a.length).fill(NaN)]))
    return { manifest: trained.manifest, arrays: nan }
  },
  predict(weights, x, out) {
    if (trained === undefined) { ${onServe} }
    return linear.predict(trained ?? weights, x, out)
  },
}
`

async function runWith(config: FreshetConfigInput): Promise<Run> {
  const other = await openPlatform(configFromObject(config, dir))
  try {
    const queued = await other.runs.enqueue({ pipeline: 'spam', trigger: { type: 'manual', actor: 'test' } })
    await new Worker(other).runOnce()
    return await other.runs.get(queued.id)
  } finally {
    await other.close()
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-infra-'))
  platform = await openPlatform(configFromObject(configOf({}), dir))
  const report = await prepareSpam(path.join(dir, 'data'))
  for (const file of report.files) await ingestFile(platform, 'emails', file.path)
  const index = pathToFileURL(path.join(packageRoot, 'dist', 'src', 'index.js')).href
  await writeFile(path.join(dir, 'nan-weights.mjs'), leakyTrainer(index, ''))
  await writeFile(path.join(dir, 'hangs.mjs'), leakyTrainer(index, 'for (;;) {}'))
}, 180_000)
afterAll(async () => {
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

describe('infra check before deploy', () => {
  it('a good candidate answers its sample predictions in a fresh process and is deployed', async () => {
    const run = await runWith(configOf({}))
    expect(run.state, JSON.stringify(run.error)).toBe('succeeded')
    expect(run.outcome).toMatchObject({ modelVersion: 1, deployed: true })
    const infra = run.steps.find((s) => s.name === 'deploy')?.details.infraCheck as InfraCheckResult
    expect(infra).toMatchObject({ passed: true, reason: null, rows: 20, timeoutMs: 10_000 })
    expect(infra.predictions.every((p) => p !== null && p >= 0 && p <= 1)).toBe(true)
    expect((await platform.registry.version('spam', 1)).lineage.infraCheck).toEqual(infra)
  }, 180_000)

  it('an artifact with NaN weights passes its gate but is rejected with the reason; production stays', async () => {
    const run = await runWith(configOf({ trainer: { type: 'custom', module: './nan-weights.mjs' } }))
    expect(run.state, JSON.stringify(run.error)).toBe('succeeded')
    expect(run.outcome?.gate?.passed).toBe(true)
    expect(run.outcome).toMatchObject({ modelVersion: 2, modelStatus: 'rejected', deployed: false, previousProduction: 1 })
    const deploy = run.steps.find((s) => s.name === 'deploy')
    expect(deploy?.status).toBe('skipped')
    expect(deploy?.details.reason).toBe('v2 failed its infra check: prediction 0 of 20 is NaN, not a finite number')
    const v2 = await platform.registry.version('spam', 2)
    expect(v2.status).toBe('rejected')
    expect(v2.lineage.infraCheck).toMatchObject({ passed: false, reason: 'prediction 0 of 20 is NaN, not a finite number' })
    const events = await platform.runs.events(run.id)
    expect(events.some((e) => e.type === 'phase' && e.phase === 'infra-check' && e.message.startsWith('infra check failed'))).toBe(true)
    expect(await platform.registry.alias('spam', 'production')).toBe(1)
  }, 180_000)

  it('an artifact that hangs when it predicts is killed at the time bound and rejected (trainAndRegister too)', async () => {
    const other = await openPlatform(configFromObject(configOf({ trainer: { type: 'custom', module: './hangs.mjs' }, deploy: { infraCheck: { timeout: '3s' } } }), dir))
    try {
      const outcome = await trainAndRegister(other, 'spam', { actor: 'test' })
      expect(outcome.gate.passed).toBe(true)
      expect(outcome.infraCheck).toMatchObject({ passed: false, timeoutMs: 3000, reason: 'the artifact did not load and answer 20 sample predictions within 3s in a fresh process' })
      expect(outcome.model).toMatchObject({ version: 3, status: 'rejected' })
      expect(outcome.deployed).toBe(false)
    } finally {
      await other.close()
    }
    expect(await platform.registry.alias('spam', 'production')).toBe(1)
  }, 180_000)
})
