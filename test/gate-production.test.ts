import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { configFromObject } from '../src/config/load.js'
import type { FreshetConfigInput, PipelineSpec } from '../src/config/schema.js'
import { packageRoot } from '../src/core/package-root.js'
import { ingestFile } from '../src/data/ingest.js'
import { checkGate, type GateVerdict } from '../src/evaluation/gate.js'
import { prepareSpam } from '../src/examples/spam.js'
import type { Run } from '../src/orchestration/run-types.js'
import { Worker } from '../src/orchestration/worker.js'
import { deployVersion } from '../src/registry/deploys.js'

// The gate against production on the SpamAssassin corpus: every candidate is compared with the production model
// scored on the candidate's own holdout rows, through runs executed by a worker (trainer in the built child).

const features = { subject: { type: 'text' }, body: { type: 'text', maxTokens: 200 }, from_domain: { type: 'categorical' } } as const
const spam = {
  dataset: 'emails',
  task: 'binary',
  features,
  trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 18 },
  split: { by: 'time', holdout: 0.2 },
  gate: { metric: 'auc', min: 0.8, maxRegression: 0.005 },
} as const
const configOf = (pipeline: Record<string, unknown>): FreshetConfigInput =>
  ({ datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } }, pipelines: { spam: { ...spam, ...pipeline } } })

let dir: string
let platform: Platform

/** A run of `spam` executed to the end by a worker of a platform opened with `config` on the same state. */
async function runWith(config: FreshetConfigInput): Promise<Run> {
  const other = await openPlatform(configFromObject(config, dir))
  try {
    const queued = await other.runs.enqueue({ pipeline: 'spam', trigger: { type: 'manual', actor: 'test' } })
    const result = await new Worker(other).runOnce()
    expect(result?.runId).toBe(queued.id)
    return await other.runs.get(queued.id)
  } finally {
    await other.close()
  }
}

const stepDetails = (run: Run, name: string) => run.steps.find((s) => s.name === name)?.details as Record<string, unknown>
interface Previous {
  version: number
  metrics: Record<string, number> | null
  problem: string | null
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-gate-'))
  platform = await openPlatform(configFromObject(configOf({}), dir))
  const report = await prepareSpam(path.join(dir, 'data'))
  for (const file of report.files) await ingestFile(platform, 'emails', file.path)
  const index = pathToFileURL(path.join(packageRoot, 'dist', 'src', 'index.js')).href
  // Trains the real linear model on labels shuffled with a fixed seed: a deliberately broken candidate.
  await writeFile(
    path.join(dir, 'shuffled.mjs'),
    `import { createTrainer } from ${JSON.stringify(index)}
const linear = createTrainer({ type: 'linear' })
export default {
  type: 'shuffled-labels',
  fit(data, options) {
    const y = Float64Array.from(data.y)
    let s = 7
    for (let i = y.length - 1; i > 0; i--) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0
      const j = s % (i + 1)
      const t = y[i]; y[i] = y[j]; y[j] = t
    }
    return linear.fit({ ...data, y }, options)
  },
  predict: (weights, x, out) => linear.predict(weights, x, out),
}
`,
  )
}, 180_000)
afterAll(async () => {
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

describe('the gate against production, on the same holdout rows', () => {
  let first: Run
  it('the first model has no production to compare with: the verdict says so and it is deployed', async () => {
    first = await runWith(configOf({}))
    expect(first.state, JSON.stringify(first.error)).toBe('succeeded')
    expect(first.outcome).toMatchObject({ modelVersion: 1, modelStatus: 'registered', deployed: true, previousProduction: null })
    const gate = first.outcome?.gate as GateVerdict
    expect(gate).toMatchObject({ passed: true, metric: 'auc', baseline: null })
    expect(gate.notes).toContain('no production model: maxRegression does not apply')
    expect(stepDetails(first, 'evaluate').previous).toBeNull()
    expect(await platform.registry.alias('spam', 'production')).toBe(1)
  }, 180_000)

  it('a candidate trained on shuffled labels is rejected, with both models scored on the same rows', async () => {
    const run = await runWith(configOf({ trainer: { type: 'custom', module: './shuffled.mjs' } }))
    expect(run.state, JSON.stringify(run.error)).toBe('succeeded')
    expect(run.outcome).toMatchObject({ modelVersion: 2, modelStatus: 'rejected', deployed: false, previousProduction: 1 })
    const evaluate = stepDetails(run, 'evaluate')
    const metrics = evaluate.metrics as Record<string, number>
    const previous = evaluate.previous as Previous
    console.log(`shuffled labels: candidate auc ${metrics.auc?.toFixed(4)}, production v1 auc ${previous.metrics?.auc?.toFixed(4)} on the same ${metrics.count} rows`)
    expect(metrics.auc).toBeLessThan(0.75)
    expect(previous).toMatchObject({ version: 1, problem: null })
    expect(previous.metrics?.auc).toBeGreaterThan(0.95)
    expect(previous.metrics?.count).toBe(metrics.count)
    // The candidate and production used the same holdout, so production's number there is v1's own holdout AUC.
    expect(previous.metrics?.auc).toBeCloseTo((first.outcome?.metrics as Record<string, number>).auc as number, 10)
    const gate = run.outcome?.gate as GateVerdict
    expect(gate.passed).toBe(false)
    expect(gate.baseline).toMatchObject({ version: 1, value: previous.metrics?.auc, problem: null })
    expect(gate.reasons.join('\n')).toMatch(/auc 0\.\d{4} is 0\.\d{4} worse than production v1's 0\.9\d{3} on the same holdout; the gate allows at most 0\.0050/)
    expect(stepDetails(run, 'deploy').reason).toMatch(/^v2 failed its gate: /)
    const comparison = evaluate.comparison as { name: string; previous: number | null }[]
    expect(comparison.find((m) => m.name === 'auc')?.previous).toBe(previous.metrics?.auc)

    const v2 = await platform.registry.version('spam', 2)
    expect(v2.status).toBe('rejected')
    expect(v2.lineage.gate).toEqual(gate)
    expect(v2.lineage.previous).toEqual({ version: 1, metrics: previous.metrics })
    expect(await platform.registry.alias('spam', 'production')).toBe(1)
  }, 180_000)

  it('maxRegression blocks a slightly worse candidate that min alone would pass', async () => {
    // Ten times the default FTRL l1 penalty: a plausible tuning change that costs under a point of AUC here.
    const changed = { trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 18, l1: 3 }, gate: { metric: 'auc', min: 0.95, maxRegression: 0.004 } }
    const run = await runWith(configOf(changed))
    expect(run.state, JSON.stringify(run.error)).toBe('succeeded')
    const gate = run.outcome?.gate as GateVerdict
    const metrics = stepDetails(run, 'evaluate').metrics as Record<string, number>
    const previous = stepDetails(run, 'evaluate').previous as Previous
    console.log(`l1 = 3: candidate auc ${metrics.auc?.toFixed(4)}, production v1 ${previous.metrics?.auc?.toFixed(4)}; regression ${gate.regression?.toFixed(4)}`)
    expect(run.outcome).toMatchObject({ modelVersion: 3, modelStatus: 'rejected', deployed: false })
    expect(gate.value).toBeGreaterThanOrEqual(0.95)
    expect(gate.regression).toBeGreaterThan(0.004)
    expect(gate.regression).toBeLessThan(0.02)
    expect(gate.reasons).toHaveLength(1)
    expect(gate.reasons[0]).toMatch(/worse than production v1's .* at most 0\.0040$/)
    // The same numbers pass with min alone, and with a relative threshold of 1% of production's AUC.
    const spec = (gateSpec: PipelineSpec['gate']) => ({ ...spam, ...changed, gate: gateSpec }) as PipelineSpec
    const production = { version: 1, metrics: previous.metrics as Record<string, number> }
    expect(checkGate(spec({ metric: 'auc', min: 0.95 }), metrics, production).passed).toBe(true)
    expect(checkGate(spec({ metric: 'auc', min: 0.95, maxRegression: '1%' }), metrics, production).passed).toBe(true)
    expect(await platform.registry.alias('spam', 'production')).toBe(1)
  }, 180_000)

  it('an operator may force a rejected version to production; the move says it was forced, and why', async () => {
    const outcome = await deployVersion(platform.registry, { pipeline: 'spam', version: 2, expected: 1, actor: 'test-operator', reason: 'checking the force path', force: true })
    expect(outcome).toMatchObject({ from: 1, to: 2, forced: true })
    const last = (await platform.registry.history('spam')).at(-1)
    expect(last).toMatchObject({ alias: 'production', fromVersion: 1, toVersion: 2, actor: 'test-operator' })
    expect(last?.reason).toMatch(/forced.*checking the force path/)
  })
})
