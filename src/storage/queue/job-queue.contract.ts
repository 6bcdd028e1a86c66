import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isFreshetError } from '../../core/errors.js'
import type { MetadataDb } from '../metadata/database.js'
import { LeaseLostError, type JobQueue, type JobQueueOptions, type LeaseLostReason } from './job-queue.js'

export interface JobQueueFixture {
  /** The queue's database, for the caller's own writes. */
  readonly db: MetadataDb
  readonly queue: JobQueue
  /** Another queue with the same options over its own connection to the same database: another worker. */
  readonly connect: () => Promise<{ queue: JobQueue; close: () => Promise<void> }>
  readonly cleanup: () => Promise<void>
}

export interface JobQueueContractOptions {
  readonly name: string
  /** A queue over a fresh, empty, migrated database, built with `options`. */
  readonly create: (options: JobQueueOptions) => Promise<JobQueueFixture>
}

const start = Date.parse('2030-01-01T00:00:00.000Z')
const at = (ms: number): Date => new Date(start + ms)
const backoff = { baseMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0 }

/** A write of the caller's own, committed or rolled back with the job (any table does; datasets is simple). */
async function record(db: MetadataDb, name: string): Promise<void> {
  await db
    .insertInto('datasets')
    .values({ name, created_at: at(0).toISOString() })
    .execute()
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => (isFreshetError(error) ? error.code : String(error)),
  )
}

async function expectLeaseLost(promise: Promise<unknown>, reason: LeaseLostReason): Promise<void> {
  const error = await promise.then(
    (value) => expect.fail(`expected LEASE_LOST, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(LeaseLostError)
  expect(error).toMatchObject({ code: 'LEASE_LOST', reason })
}

/** Runs the behaviour every `JobQueue` adapter must have; call it from the adapter's test file. */
export function describeJobQueueContract({ name, create }: JobQueueContractOptions): void {
  describe(`JobQueue contract: ${name}`, () => {
    let clock = 0
    let fx: JobQueueFixture
    let queue: JobQueue
    const advance = (ms: number): void => {
      clock += ms
    }
    const datasets = async (): Promise<string[]> =>
      (await fx.db.selectFrom('datasets').select('name').orderBy('name').execute()).map((r) => r.name)

    beforeEach(async () => {
      clock = 0
      fx = await create({ now: () => at(clock), backoff })
      queue = fx.queue
    })
    afterEach(async () => fx.cleanup())

    it('enqueues a queued job with its payload and finds it again', async () => {
      const job = await queue.enqueue({ kind: 'train', payload: { pipeline: 'spam', n: [1, 2] } })
      expect(job).toMatchObject({
        kind: 'train',
        state: 'queued',
        attempts: 0,
        token: 0,
        maxAttempts: 5,
        leaseOwner: null,
      })
      expect(job.runAfter).toEqual(at(0))
      expect(await queue.get(job.id)).toEqual(job)
      expect(await queue.list({ kind: 'train', state: 'queued' })).toEqual([job])
      expect(await queue.list({ state: 'running' })).toEqual([])
      expect(await codeOf(queue.get('no-such-job'))).toBe('JOB_NOT_FOUND')
    })

    it('hands out due jobs by runAfter, then in enqueue order, and only of the kinds asked for', async () => {
      const later = await queue.enqueue({ kind: 'k', payload: 'later', runAfter: at(10_000) })
      const first = await queue.enqueue({ kind: 'k', payload: 'first' })
      const second = await queue.enqueue({ kind: 'k', payload: 'second' })
      const early = await queue.enqueue({ kind: 'k', payload: 'early', runAfter: at(-5_000) })
      const other = await queue.enqueue({ kind: 'other', payload: 'other' })
      const order: string[] = []
      for (let claim; (claim = await queue.claim('w', { kinds: ['k'], leaseMs: 60_000 }));)
        order.push(claim.job.id)
      expect(order).toEqual([early.id, first.id, second.id])
      advance(10_000)
      expect((await queue.claim('w', { kinds: ['k'], leaseMs: 60_000 }))?.job.id).toBe(later.id)
      expect(await queue.claim('w', { kinds: [], leaseMs: 60_000 })).toBeUndefined()
      expect((await queue.claim('w', { leaseMs: 60_000 }))?.job.id).toBe(other.id)
    })

    it('coalesces jobs with the same idempotency key until the job finishes', async () => {
      const a = await queue.enqueue({ kind: 'train', payload: 1, idempotencyKey: 'spam' })
      expect((await queue.enqueue({ kind: 'train', payload: 2, idempotencyKey: 'spam' })).id).toBe(a.id)
      expect((await queue.enqueue({ kind: 'ingest', payload: 3, idempotencyKey: 'spam' })).id).not.toBe(a.id)
      const claim = await queue.claim('w', { kinds: ['train'], leaseMs: 60_000 })
      expect(await queue.enqueue({ kind: 'train', payload: 4, idempotencyKey: 'spam' })).toMatchObject({
        id: a.id,
        state: 'running',
        payload: 1,
      })
      await queue.complete(a.id, claim!.token, { ok: true })
      const b = await queue.enqueue({ kind: 'train', payload: 5, idempotencyKey: 'spam' })
      expect(b).toMatchObject({ state: 'queued', payload: 5 })
      expect(b.id).not.toBe(a.id)
      expect((await queue.list({ kind: 'train' })).map((j) => j.state)).toEqual(['succeeded', 'queued'])
    })

    it('enqueues inside the caller transaction: the job exists only if it commits', async () => {
      await expect(
        fx.db.transaction().execute(async (trx) => {
          await record(trx, 'rolled-back')
          await queue.enqueue({ kind: 'train', payload: 'x' }, trx)
          throw new Error('the change failed')
        }),
      ).rejects.toThrow('the change failed')
      expect(await queue.list()).toEqual([])
      const job = await fx.db.transaction().execute(async (trx) => {
        await record(trx, 'committed')
        return queue.enqueue({ kind: 'train', payload: 'y' }, trx)
      })
      expect(await queue.list()).toEqual([job])
      expect(await datasets()).toEqual(['committed'])
    })

    it('a claim sets lease and token; a heartbeat extends the lease, also after it expired unclaimed', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      const claim = await queue.claim('worker-1', { leaseMs: 1_000 })
      expect(claim?.token).toBe(1)
      expect(claim?.job).toMatchObject({
        id: job.id,
        state: 'running',
        attempts: 1,
        token: 1,
        leaseOwner: 'worker-1',
      })
      expect(claim?.job.leaseExpiresAt).toEqual(at(1_000))
      advance(800)
      expect((await queue.heartbeat(job.id, 1, 1_000)).leaseExpiresAt).toEqual(at(1_800))
      advance(800)
      expect(await queue.claim('worker-2', { leaseMs: 1_000 })).toBeUndefined()
      // Expired but not yet claimed by anyone: the token still holds, and a heartbeat renews the lease.
      advance(500)
      expect((await queue.heartbeat(job.id, 1, 1_000)).leaseExpiresAt).toEqual(at(3_100))
      expect(await queue.claim('worker-2', { leaseMs: 1_000 })).toBeUndefined()
      expect(await queue.get(job.id)).toMatchObject({ state: 'running', token: 1, leaseOwner: 'worker-1' })
    })

    it('an expired lease goes to another worker with a higher token; the first worker then changes nothing', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      const first = await queue.claim('worker-1', { leaseMs: 1_000 })
      advance(1_001)
      const second = await queue.claim('worker-2', { leaseMs: 1_000 })
      expect(second).toMatchObject({ token: 2, job: { id: job.id, attempts: 2, leaseOwner: 'worker-2' } })
      const before = await queue.get(job.id)
      await expectLeaseLost(queue.heartbeat(job.id, first!.token, 1_000), 'superseded')
      await expectLeaseLost(queue.complete(job.id, first!.token, 'stale result'), 'superseded')
      await expectLeaseLost(
        queue.fail(job.id, first!.token, new Error('x'), { retryable: true }),
        'superseded',
      )
      expect(await queue.get(job.id)).toEqual(before)
      expect(await queue.complete(job.id, second!.token, 'fresh result')).toMatchObject({
        state: 'succeeded',
        result: 'fresh result',
      })
      await expectLeaseLost(queue.complete(job.id, second!.token, 'again'), 'finished')
    })

    it('exactly one of many concurrent claimers gets a job', async () => {
      const workers = await Promise.all(Array.from({ length: 6 }, () => fx.connect()))
      try {
        const job = await queue.enqueue({ kind: 'k', payload: null })
        const claims = await Promise.all(workers.map((w, i) => w.queue.claim(`w${i}`, { leaseMs: 60_000 })))
        expect(claims.filter((c) => c !== undefined).map((c) => [c.job.id, c.token])).toEqual([[job.id, 1]])
        for (let i = 0; i < 4; i++) await queue.enqueue({ kind: 'k', payload: i })
        const more = (
          await Promise.all(workers.map((w, i) => w.queue.claim(`w${i}`, { leaseMs: 60_000 })))
        ).filter((c) => c !== undefined)
        expect(new Set(more.map((c) => c.job.id)).size).toBe(4)
        expect(await queue.list({ state: 'queued' })).toEqual([])
      } finally {
        await Promise.all(workers.map((w) => w.close()))
      }
    })

    it('retries a failed attempt with exponential backoff, then fails for good after maxAttempts', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null, maxAttempts: 3 })
      for (const [attempt, delay] of [
        [1, 1_000],
        [2, 2_000],
      ] as const) {
        const claim = await queue.claim('w', { leaseMs: 60_000 })
        expect(claim?.token).toBe(attempt)
        const failed = await queue.fail(job.id, attempt, new Error(`boom ${attempt}`), { retryable: true })
        expect(failed).toMatchObject({
          state: 'queued',
          error: { message: `boom ${attempt}` },
          leaseExpiresAt: null,
        })
        advance(delay - 1)
        expect(await queue.claim('w', { leaseMs: 60_000 })).toBeUndefined()
        advance(1)
      }
      const last = await queue.claim('w', { leaseMs: 60_000 })
      expect(last?.job.attempts).toBe(3)
      expect(await queue.fail(job.id, 3, new Error('boom 3'), { retryable: true })).toMatchObject({
        state: 'failed',
        attempts: 3,
      })
      advance(3_600_000)
      expect(await queue.claim('w', { leaseMs: 60_000 })).toBeUndefined()

      const fatal = await queue.enqueue({ kind: 'k', payload: null })
      const claim = await queue.claim('w', { leaseMs: 60_000 })
      expect(await queue.fail(fatal.id, claim!.token, 'bad config', { retryable: false })).toMatchObject({
        state: 'failed',
        attempts: 1,
        error: { message: 'bad config' },
      })
    })

    it('retries a dead worker’s job after its lease expires, and fails it once the last lease expires', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null, maxAttempts: 2 })
      await queue.claim('dies-1', { leaseMs: 1_000 })
      advance(1_001)
      expect(await queue.claim('dies-2', { leaseMs: 1_000 })).toMatchObject({ token: 2 })
      advance(1_001)
      expect(await queue.claim('w', { leaseMs: 1_000 })).toBeUndefined()
      expect(await queue.get(job.id)).toMatchObject({
        state: 'failed',
        attempts: 2,
        error: { code: 'LEASE_EXPIRED' },
      })
    })

    it('cancels a queued job at once', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      expect(await queue.cancel(job.id, 'not needed')).toMatchObject({
        state: 'cancelled',
        cancelReason: 'not needed',
        finishedAt: at(0),
      })
      expect(await queue.claim('w', { leaseMs: 1_000 })).toBeUndefined()
      expect(await queue.cancel(job.id, 'again')).toMatchObject({
        state: 'cancelled',
        cancelReason: 'not needed',
      })
      expect(await codeOf(queue.cancel('no-such-job', 'x'))).toBe('JOB_NOT_FOUND')
    })

    it('cancels a running job through its holder’s next heartbeat; its results are refused', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      const claim = await queue.claim('w', { leaseMs: 60_000 })
      expect(await queue.cancel(job.id, 'user pressed cancel')).toMatchObject({
        state: 'running',
        cancelReason: 'user pressed cancel',
      })
      await expectLeaseLost(queue.heartbeat(job.id, claim!.token, 60_000), 'cancelled')
      expect(await queue.get(job.id)).toMatchObject({
        state: 'cancelled',
        result: null,
        leaseExpiresAt: null,
      })
      await expectLeaseLost(queue.complete(job.id, claim!.token, 'late'), 'cancelled')
      expect(await queue.get(job.id)).toMatchObject({ state: 'cancelled', result: null })
    })

    it('a cancelled running job whose worker died is finished, not retried, when its lease expires', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      await queue.claim('dies', { leaseMs: 1_000 })
      await queue.cancel(job.id, 'stop')
      advance(1_001)
      expect(await queue.claim('w', { leaseMs: 1_000 })).toBeUndefined()
      expect(await queue.get(job.id)).toMatchObject({ state: 'cancelled', attempts: 1 })
    })

    it('withLease commits the caller’s writes and the completion together, only for the current token', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      const stale = await queue.claim('paused', { leaseMs: 1_000 })
      advance(1_001)
      const current = await queue.claim('alive', { leaseMs: 1_000 })
      let ran = false
      await expectLeaseLost(
        queue.withLease(job.id, stale!.token, async (trx) => {
          ran = true
          await record(trx, 'from-stale')
        }),
        'superseded',
      )
      expect(ran).toBe(false)
      // A stale worker that writes first and completes in its own transaction: the completion rolls its write back.
      await expectLeaseLost(
        fx.db.transaction().execute(async (trx) => {
          await record(trx, 'from-stale')
          await queue.complete(job.id, stale!.token, 'stale', trx)
        }),
        'superseded',
      )
      await expect(
        queue.withLease(job.id, current!.token, async (trx) => {
          await record(trx, 'half-done')
          throw new Error('crashed midway')
        }),
      ).rejects.toThrow('crashed midway')
      expect(await datasets()).toEqual([])
      expect(await queue.get(job.id)).toMatchObject({ state: 'running', token: 2 })
      const done = await queue.withLease(job.id, current!.token, async (trx) => {
        await record(trx, 'from-current')
        return queue.complete(job.id, current!.token, { version: 1 }, trx)
      })
      expect(done).toMatchObject({ state: 'succeeded', result: { version: 1 }, token: 2 })
      expect(await datasets()).toEqual(['from-current'])
    })

    it('withLease refuses a cancelled job, rolls back, and finishes the job as cancelled', async () => {
      const job = await queue.enqueue({ kind: 'k', payload: null })
      const claim = await queue.claim('w', { leaseMs: 60_000 })
      await queue.cancel(job.id, 'stop')
      await expectLeaseLost(
        queue.withLease(job.id, claim!.token, async (trx) => {
          await record(trx, 'result')
        }),
        'cancelled',
      )
      expect(await datasets()).toEqual([])
      expect(await queue.get(job.id)).toMatchObject({ state: 'cancelled' })
    })
  })
}
