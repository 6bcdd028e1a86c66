import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { learnableCsv } from '../../test/support/trained-model.js'
import { openPlatform, type Platform } from '../app/platform.js'
import { configFromObject } from '../config/load.js'
import type { FreshetConfigInput } from '../config/schema.js'
import { ingestFile } from '../data/ingest.js'
import type { WorkResult } from './execute-run.js'
import { runStatistics } from './statistics.js'
import type { RunEvent } from './run-types.js'
import { Worker } from './worker.js'

// These tests train for real in the compiled trainer process: `npm run build` first (npm test does).

const features = {
  message: { type: 'text' },
  color: { type: 'categorical' },
  amount: { type: 'numeric' },
} as const
const custom = (module: string) =>
  ({ dataset: 'd', task: 'binary', features, trainer: { type: 'custom', module } }) as const
const config = {
  datasets: { d: { eventTime: 'ts', label: 'label' } },
  pipelines: {
    p: {
      dataset: 'd',
      task: 'binary',
      features,
      trainer: { type: 'linear', hashBits: 12 },
      gate: { metric: 'auc', min: 0.6 },
    },
    strict: {
      dataset: 'd',
      task: 'binary',
      features,
      trainer: { type: 'linear', hashBits: 12 },
      gate: { metric: 'auc', min: 0.99999 },
    },
    crash: custom('./crash.mjs'),
    hang: custom('./hang.mjs'),
  },
} satisfies FreshetConfigInput

let dir: string
let platform: Platform
// The clock of queue and runs: real time, moved ahead when a test makes a lease expire.
let offset = 0
const now = (): Date => new Date(Date.now() + offset)

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-worker-'))
  await writeFile(
    path.join(dir, 'crash.mjs'),
    `export default { type: 'crash', fit() { console.error('about to explode'); throw new Error('gradient exploded') }, predict() { return new Float64Array(0) } }\n`,
  )
  await writeFile(
    path.join(dir, 'hang.mjs'),
    `export default { type: 'hang', fit() { console.log('fitting forever'); setInterval(() => {}, 1000); return new Promise(() => {}) }, predict() { return new Float64Array(0) } }\n`,
  )
  platform = await openPlatform(configFromObject(config, dir), { now })
  const file = path.join(dir, 'd.csv')
  await writeFile(file, learnableCsv(300))
  await ingestFile(platform, 'd', file)
})
afterAll(async () => {
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

const manual = { type: 'manual', actor: 'test' } as const

function nextEvent(runId: string, match: (event: RunEvent) => boolean): Promise<RunEvent> {
  return new Promise((resolve) => {
    const off = platform.runs.bus.subscribe(runId, (event) => {
      if (!match(event)) return
      off()
      resolve(event)
    })
  })
}

describe('worker', () => {
  it('executes a run through the queue: five steps with timings, progress with an ETA, a deployed model version', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'p', trigger: manual })
    const events: RunEvent[] = []
    const off = platform.runs.bus.subscribe(run.id, (e) => events.push(e))
    const result = await new Worker(platform).runOnce()
    off()
    expect(result).toEqual({ runId: run.id, jobId: run.jobId, result: 'succeeded' })

    const done = await platform.runs.get(run.id)
    expect(done).toMatchObject({
      state: 'succeeded',
      attempt: 1,
      error: null,
      outcome: { modelVersion: 1, modelStatus: 'registered', deployed: true, previousProduction: null },
    })
    expect(done.steps.map((s) => [s.name, s.status])).toEqual([
      ['resolve-data', 'succeeded'],
      ['train', 'succeeded'],
      ['evaluate', 'succeeded'],
      ['register', 'succeeded'],
      ['deploy', 'succeeded'],
    ])
    for (const step of done.steps) {
      expect(step.startedAt, step.name).not.toBeNull()
      expect(step.durationMs, step.name).toBe(
        Date.parse(step.finishedAt ?? '') - Date.parse(step.startedAt ?? ''),
      )
    }
    // Starting the trainer process alone takes longer than a millisecond.
    expect(done.steps[1]?.durationMs).toBeGreaterThan(10)
    expect(done.steps[1]?.details).toMatchObject({ trainer: 'linear', rows: { train: 240, holdout: 60 } })
    expect(done.steps[0]?.details).toMatchObject({ dataset: 'd', batches: 1, rows: 300 })
    expect(done.steps[2]?.details).toMatchObject({ gate: { passed: true, metric: 'auc' }, previous: null })
    expect(done.lineage).toMatchObject({ runId: run.id, dataset: 'd' })
    expect(await platform.registry.alias('p', 'production')).toBe(1)
    expect((await platform.queue.get(run.jobId)).state).toBe('succeeded')

    const progress = events.filter((e) => e.type === 'progress')
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)).toMatchObject({ fraction: 1, epochs: 1, etaSeconds: 0 })
    expect(events.filter((e) => e.type === 'phase').map((e) => e.phase)).toEqual([
      'data',
      'features',
      'train',
      'evaluate',
      'infra-check',
    ])
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'succeeded' })
    // Published events are the stored ones, in order.
    expect((await platform.runs.events(run.id)).slice(-events.length)).toEqual(events)

    // The next run compares against this one and finds nothing else queued.
    const second = await platform.runs.enqueue({ pipeline: 'p', trigger: manual })
    await new Worker(platform).runOnce()
    const stats = runStatistics(await platform.runs.get(second.id))
    expect(stats).toMatchObject({
      state: 'succeeded',
      previousVersion: 1,
      model: { version: 2 },
      deployed: true,
      data: { dataset: 'd', batches: 1 },
    })
    expect(stats.metrics.find((m) => m.name === 'auc')).toMatchObject({ delta: 0 })
    expect(await new Worker(platform).runOnce()).toBeUndefined()
  })

  it('registers a version that fails its gate as rejected and skips deploy', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'strict', trigger: manual })
    await new Worker(platform).runOnce()
    const done = await platform.runs.get(run.id)
    expect(done).toMatchObject({
      state: 'succeeded',
      outcome: { modelVersion: 1, modelStatus: 'rejected', deployed: false, gate: { passed: false } },
    })
    expect(done.steps.find((s) => s.name === 'deploy')).toMatchObject({
      status: 'skipped',
      details: { reason: expect.stringMatching(/v1 failed its gate: auc/) as unknown },
    })
    expect(await platform.registry.alias('strict', 'production')).toBeUndefined()
  })

  it('a crashing trainer fails the run with the error in its train step, its log kept, nothing registered', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'crash', trigger: manual })
    const result = await new Worker(platform).runOnce()
    expect(result).toMatchObject({ result: 'failed', error: { code: 'TRAINING_FAILED', step: 'train' } })
    const done = await platform.runs.get(run.id)
    expect(done.state).toBe('failed')
    expect(done.error).toMatchObject({
      code: 'TRAINING_FAILED',
      message: expect.stringContaining('gradient exploded') as unknown,
    })
    expect(done.steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'skipped', 'skipped', 'skipped'])
    expect(done.steps[1]?.error?.message).toContain('gradient exploded')
    expect(await platform.registry.versions('crash')).toEqual([])
    expect(await platform.runs.logs(run.id)).toContainEqual({ stream: 'stderr', line: 'about to explode' })
    // Not retried: the same trainer would crash again.
    expect(await platform.queue.get(run.jobId)).toMatchObject({ state: 'failed', attempts: 1 })
  })

  it('cancelling a running run kills its trainer and cancels the run', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'hang', trigger: manual })
    const fitting = nextEvent(
      run.id,
      (e) => e.type === 'log' && e.lines.some((l) => l.line === 'fitting forever'),
    )
    const working = new Worker(platform).runOnce()
    await fitting
    await platform.runs.cancel(run.id, { reason: 'taking too long', actor: 'test' })
    expect(await working).toMatchObject({ runId: run.id, result: 'cancelled' })
    const done = await platform.runs.get(run.id)
    expect(done).toMatchObject({ state: 'cancelled', cancelReason: 'taking too long (by test)' })
    expect(done.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'cancelled',
      'skipped',
      'skipped',
      'skipped',
    ])
    expect((await platform.queue.get(run.jobId)).state).toBe('cancelled')
    expect(await platform.registry.versions('hang')).toEqual([])
  })

  it('stop() lets the current run finish within the bound, and claims nothing more', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'p', trigger: manual })
    const next = await platform.runs.enqueue({ pipeline: 'p', trigger: manual })
    const training = nextEvent(run.id, (e) => e.type === 'phase' && e.phase === 'data')
    const worker = new Worker(platform, { pollMs: 10 })
    worker.start()
    await training
    await worker.stop({ timeoutMs: 60_000 })
    expect((await platform.runs.get(run.id)).state).toBe('succeeded')
    expect((await platform.runs.get(next.id)).state).toBe('queued')
    expect((await platform.runs.cancel(next.id, { reason: 'cleanup', actor: 'test' })).state).toBe(
      'cancelled',
    )
  })

  it('stop() kills a run that does not finish within the bound and hands it back to the queue', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'hang', trigger: manual })
    const fitting = nextEvent(
      run.id,
      (e) => e.type === 'log' && e.lines.some((l) => l.line === 'fitting forever'),
    )
    const results: WorkResult[] = []
    const worker = new Worker(platform, { pollMs: 10, onResult: (r) => results.push(r) })
    worker.start()
    await fitting
    await worker.stop({ timeoutMs: 50 })
    expect(results).toMatchObject([{ runId: run.id, result: 'released' }])
    const released = await platform.runs.get(run.id)
    expect(released).toMatchObject({ state: 'queued', error: { code: 'ABORTED' } })
    expect(await platform.queue.get(run.jobId)).toMatchObject({ state: 'queued', attempts: 1 })
    expect((await platform.runs.cancel(run.id, { reason: 'cleanup', actor: 'test' })).state).toBe('cancelled')
  })

  it('a cancellation requested from another process reaches the worker at its next heartbeat', async () => {
    const other = await openPlatform(configFromObject(config, dir), { now })
    try {
      const run = await platform.runs.enqueue({ pipeline: 'hang', trigger: manual })
      const fitting = nextEvent(
        run.id,
        (e) => e.type === 'log' && e.lines.some((l) => l.line === 'fitting forever'),
      )
      const working = new Worker(platform, { heartbeatMs: 50 }).runOnce()
      await fitting
      // Another connection and another event bus: only the queue tells the worker.
      expect((await other.runs.cancel(run.id, { reason: 'from elsewhere', actor: 'ops' })).state).toBe(
        'running',
      )
      expect(await working).toMatchObject({ result: 'cancelled' })
      expect(await platform.runs.get(run.id)).toMatchObject({
        state: 'cancelled',
        cancelReason: 'from elsewhere (by ops)',
      })
    } finally {
      await other.close()
    }
  })

  it("a stale worker's final commit is rejected (LEASE_LOST): exactly one model version", async () => {
    // Worker A stalls past its lease right before committing; worker B, on its own connection, takes the run over.
    const other = await openPlatform(configFromObject(config, dir), { now })
    try {
      const run = await platform.runs.enqueue({ pipeline: 'p', trigger: manual })
      const before = (await platform.registry.versions('p')).length
      const b = new Worker(other, { id: 'b', leaseMs: 30_000, heartbeatMs: 3_600_000 })
      let bResult: WorkResult | undefined
      const a = new Worker(platform, {
        id: 'a',
        leaseMs: 30_000,
        heartbeatMs: 3_600_000,
        beforeCommit: async () => {
          offset += 60_000
          bResult = await b.runOnce()
        },
      })
      const aResult = await a.runOnce()
      expect(bResult).toMatchObject({ runId: run.id, result: 'succeeded' })
      expect(aResult).toMatchObject({ runId: run.id, result: 'lease-lost', error: { code: 'LEASE_LOST' } })
      const versions = await platform.registry.versions('p')
      expect(versions).toHaveLength(before + 1)
      expect(versions.at(-1)?.lineage).toMatchObject({ runId: run.id })
      expect(await platform.runs.get(run.id)).toMatchObject({
        state: 'succeeded',
        attempt: 2,
        outcome: { modelVersion: before + 1 },
      })
      expect(await platform.queue.get(run.jobId)).toMatchObject({
        state: 'succeeded',
        attempts: 2,
        token: 2,
        leaseOwner: 'b',
      })
    } finally {
      await other.close()
    }
  })
})
