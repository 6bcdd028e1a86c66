import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempPlatform } from '../../test/support/workspace.js'
import type { Platform } from '../app/platform.js'
import { followRun } from './follow.js'
import { ProgressMeter } from './progress-meter.js'
import { runJobKind } from './runs.js'
import { stepNames, type RunEvent } from './run-types.js'

const manual = { type: 'manual', actor: 'test' } as const

let platform: Platform
let dispose: () => Promise<void>

beforeEach(async () => {
  ;({ platform, dispose } = await tempPlatform({}))
})
afterEach(async () => dispose())

describe('runs', () => {
  it('enqueueing creates a queued run with five pending steps and its job, in one transaction', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'spam', trigger: { ...manual, reason: 'new data' } })
    expect(run).toMatchObject({
      pipeline: 'spam',
      state: 'queued',
      attempt: 0,
      trigger: { type: 'manual', actor: 'test', reason: 'new data' },
      outcome: null,
      error: null,
    })
    expect(run.id).toMatch(/^r_[0-9a-f]{12}$/)
    expect(run.steps.map((s) => [s.name, s.status])).toEqual(stepNames.map((n) => [n, 'pending']))
    const job = await platform.queue.get(run.jobId)
    expect(job).toMatchObject({ kind: runJobKind, state: 'queued', payload: { runId: run.id } })
    expect((await platform.runs.events(run.id)).map((e) => [e.seq, e.type])).toEqual([[1, 'state']])

    // Enqueued in a transaction that rolls back: neither the run nor its job exists.
    const failed = await platform.db
      .transaction()
      .execute(async (trx) => {
        await platform.runs.enqueue({ pipeline: 'spam', trigger: manual }, trx)
        throw new Error('the cause of the run failed')
      })
      .catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(Error)
    expect(await platform.runs.list()).toHaveLength(1)
    expect(await platform.queue.list({ kind: runJobKind })).toHaveLength(1)
  })

  it('two enqueues with the same idempotency key give one run while it is unfinished; other keys and pipelines do not coalesce', async () => {
    const a = await platform.runs.enqueue({ pipeline: 'spam', trigger: manual, idempotencyKey: 'file-1' })
    const b = await platform.runs.enqueue({
      pipeline: 'spam',
      trigger: { type: 'storage', actor: 'landing' },
      idempotencyKey: 'file-1',
    })
    expect(b.id).toBe(a.id)
    expect(b.trigger.type).toBe('manual')
    const c = await platform.runs.enqueue({ pipeline: 'spam', trigger: manual, idempotencyKey: 'file-2' })
    const d = await platform.runs.enqueue({ pipeline: 'ads', trigger: manual, idempotencyKey: 'file-1' })
    expect(new Set([a.id, c.id, d.id]).size).toBe(3)
    expect(await platform.runs.list({ pipeline: 'spam' })).toHaveLength(2)

    await platform.runs.cancel(a.id, { reason: 'test', actor: 'me' })
    const e = await platform.runs.enqueue({ pipeline: 'spam', trigger: manual, idempotencyKey: 'file-1' })
    expect(e.id).not.toBe(a.id)
    expect((await platform.runs.list()).map((r) => r.id)).toEqual([e.id, d.id, c.id, a.id])
  })

  it('cancelling a queued run cancels it and its job at once, and skips its steps', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'spam', trigger: manual })
    const events: RunEvent[] = []
    const off = platform.runs.bus.subscribe(run.id, (e) => events.push(e))
    const cancelled = await platform.runs.cancel(run.id, { reason: 'not needed', actor: 'alice' })
    off()
    expect(cancelled).toMatchObject({ state: 'cancelled', cancelReason: 'not needed (by alice)' })
    expect(cancelled.finishedAt).not.toBeNull()
    expect(cancelled.steps.every((s) => s.status === 'skipped')).toBe(true)
    expect((await platform.queue.get(run.jobId)).state).toBe('cancelled')
    expect(events.at(-1)).toMatchObject({ type: 'state', state: 'cancelled' })
    // Nothing is left to claim, and cancelling again changes nothing.
    expect(await platform.queue.claim('w', { kinds: [runJobKind], leaseMs: 1000 })).toBeUndefined()
    expect(await platform.runs.cancel(run.id, { reason: 'again', actor: 'bob' })).toEqual(cancelled)
    await expect(platform.runs.get('r_000000000000')).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' })
  })

  it('reconcile finishes a run whose job finished without it (its last worker died)', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'spam', trigger: manual })
    const claim = await platform.queue.claim('dead-worker', { kinds: [runJobKind], leaseMs: 1000 })
    expect(claim?.job.id).toBe(run.jobId)
    await platform.queue.fail(run.jobId, claim?.token ?? 0, new Error('worker crashed'), { retryable: false })
    expect(await platform.runs.reconcile()).toBe(1)
    expect(await platform.runs.get(run.id)).toMatchObject({
      state: 'failed',
      error: { message: 'worker crashed' },
    })
    expect(await platform.runs.reconcile()).toBe(0)
  })

  it('followRun replays the history, then live events, once each, and returns the finished run', async () => {
    const run = await platform.runs.enqueue({ pipeline: 'spam', trigger: manual })
    await platform.runs.append(run.id, 0, { type: 'phase', phase: 'data', message: 'reading' })
    const seen: RunEvent[] = []
    const following = followRun(platform.runs, run.id, { onEvent: (e) => seen.push(e), pollMs: 60_000 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    await platform.runs.append(run.id, 0, { type: 'log', lines: [{ stream: 'stderr', line: 'hello' }] })
    await platform.runs.cancel(run.id, { reason: 'done', actor: 'test' })
    const finished = await following
    expect(finished?.state).toBe('cancelled')
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(seen.map((e) => e.type)).toEqual([
      'state',
      'phase',
      'log',
      'step',
      'step',
      'step',
      'step',
      'step',
      'state',
    ])
    expect(await platform.runs.logs(run.id)).toEqual([{ stream: 'stderr', line: 'hello' }])
    expect(platform.runs.bus.listenedRuns).toBe(0)
  })
})

describe('progress meter', () => {
  it('reports the fraction over all epochs, the rate since fitting started and the time left', () => {
    let now = 0
    const meter = new ProgressMeter(2, () => now)
    meter.start()
    now = 2_000
    expect(meter.update({ examples: 1_000, total: 1_000, epoch: 1, loss: 0.5 })).toEqual({
      examples: 1_000,
      total: 2_000,
      epoch: 1,
      epochs: 2,
      loss: 0.5,
      fraction: 0.5,
      examplesPerSecond: 500,
      etaSeconds: 2,
    })
    // A custom trainer's epochs are unknown: the ETA is to the end of the current epoch.
    const custom = new ProgressMeter(null, () => now)
    custom.start()
    expect(custom.update({ examples: 10, total: 100, epoch: 1, loss: 1 })).toMatchObject({
      total: 100,
      examplesPerSecond: null,
      etaSeconds: null,
    })
  })
})
