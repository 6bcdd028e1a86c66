import { randomUUID } from 'node:crypto'
import { sql, type ExpressionBuilder, type Kysely, type Updateable } from 'kysely'
import { FreshetError } from '../../core/errors.js'
import type { Database, JobTable, MetadataDb } from '../metadata/database.js'
import { isPostgres } from '../metadata/write-locks.js'
import {
  backoffDelay,
  defaultBackoff,
  LeaseLostError,
  type Backoff,
  type Claim,
  type Job,
  type JobError,
  type JobQueue,
  type JobQueueOptions,
  type JobState,
  type NewJob,
  type QueueTransaction,
} from './job-queue.js'
import {
  jobNotFound,
  json,
  leaseLost,
  newJobRow,
  positiveInteger,
  toJob,
  toJobError,
  type JobRow,
} from './sql-job-rows.js'

type Jobs = ExpressionBuilder<Database, 'jobs'>

const unfinished: JobState[] = ['queued', 'running']

/**
 * {@link JobQueue} on the metadata database through Kysely, in portable SQL: the same class runs on SQLite and
 * PostgreSQL. Every state change is one guarded statement (`... WHERE id = ? AND token = ? AND state = 'running'`),
 * so concurrent workers in other processes need no lock beyond the database's own.
 */
export class SqlJobQueue implements JobQueue {
  private readonly now: () => Date
  private readonly backoff: Backoff
  private readonly random: () => number
  private readonly skipLocked: boolean

  constructor(
    private readonly db: MetadataDb,
    options: JobQueueOptions = {},
  ) {
    this.skipLocked = isPostgres(db)
    this.now = options.now ?? (() => new Date())
    this.backoff = { ...defaultBackoff, ...options.backoff }
    this.random = options.random ?? Math.random
  }

  async enqueue(job: NewJob, trx?: QueueTransaction): Promise<Job> {
    const db = trx ?? this.db
    const row = newJobRow(job, this.now())
    // The insert comes first (a write, so SQLite takes the write lock at once). A conflict can only be the partial
    // unique index on unfinished (kind, key); the live job is then read. If it finished in between, insert again.
    // `seq` only orders jobs: on PostgreSQL two enqueues in flight at once may take the same number (it is not
    // unique), and their order is then the database's choice, as the order of two concurrent enqueues is anyway.
    for (let tries = 0; tries < 3; tries++) {
      const inserted = await db
        .insertInto('jobs')
        .values({ ...row, id: randomUUID(), seq: sql<number>`(select coalesce(max(seq), 0) + 1 from jobs)` })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst()
      if (inserted !== undefined) return toJob(inserted)
      const live = await db
        .selectFrom('jobs')
        .selectAll()
        .where('kind', '=', job.kind)
        .where('idempotency_key', '=', job.idempotencyKey ?? null)
        .where('state', 'in', unfinished)
        .executeTakeFirst()
      if (live !== undefined) return toJob(live)
    }
    throw new FreshetError(
      'INTERNAL',
      `job ${job.kind}/${job.idempotencyKey}: could not enqueue or find the job with this key`,
    )
  }

  async claim(
    workerId: string,
    options: { readonly kinds?: readonly string[]; readonly leaseMs: number },
  ): Promise<Claim | undefined> {
    const leaseMs = positiveInteger('leaseMs', options.leaseMs)
    if (options.kinds?.length === 0) return undefined
    const now = this.now()
    const at = now.toISOString()
    await this.reapExpired(at)
    const due = (eb: Jobs) =>
      eb.or([
        eb.and([eb('state', '=', 'queued'), eb('run_after', '<=', at)]),
        eb.and([
          eb('state', '=', 'running'),
          eb('lease_expires_at', '<', at),
          eb('cancel_reason', 'is', null),
          eb('attempts', '<', eb.ref('max_attempts')),
        ]),
      ])
    // The whole claim is this one statement. SQLite: it starts with a write, so concurrent claimers queue on the
    // database's write lock. PostgreSQL: the candidate is locked `FOR UPDATE SKIP LOCKED`, so concurrent claimers
    // pass each other by instead of waiting for a row that another one takes. Either way the outer `due` re-checks
    // the chosen row as it is when the update runs.
    const row = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        token: eb('token', '+', 1),
        attempts: eb('attempts', '+', 1),
        lease_owner: workerId,
        lease_expires_at: new Date(now.getTime() + leaseMs).toISOString(),
        updated_at: at,
      }))
      .where('id', '=', (eb) => {
        let candidate = eb.selectFrom('jobs').select('id').where(due)
        if (options.kinds !== undefined) candidate = candidate.where('kind', 'in', options.kinds)
        candidate = candidate.orderBy('run_after').orderBy('seq').limit(1)
        return this.skipLocked ? candidate.forUpdate().skipLocked() : candidate
      })
      .where(due)
      .returningAll()
      .executeTakeFirst()
    if (row === undefined) return undefined
    const job = toJob(row)
    return { job, token: job.token }
  }

  async heartbeat(jobId: string, token: number, leaseMs: number): Promise<Job> {
    const now = this.now()
    const until = new Date(now.getTime() + positiveInteger('leaseMs', leaseMs)).toISOString()
    return toJob(
      await this.fenced(this.db, jobId, token, { lease_expires_at: until, updated_at: now.toISOString() }),
    )
  }

  async complete(jobId: string, token: number, result?: unknown, trx?: QueueTransaction): Promise<Job> {
    const at = this.now().toISOString()
    const set = {
      state: 'succeeded',
      result: json(result),
      lease_expires_at: null,
      updated_at: at,
      finished_at: at,
    }
    return toJob(await this.fenced(trx ?? this.db, jobId, token, set, trx !== undefined))
  }

  async fail(
    jobId: string,
    token: number,
    error: unknown,
    options: { readonly retryable: boolean; readonly trx?: QueueTransaction },
  ): Promise<Job> {
    const db = options.trx ?? this.db
    const now = this.now()
    const at = now.toISOString()
    // `attempts` changes only with `token`, and the update below requires the token, so this read cannot go stale.
    const job = await db
      .selectFrom('jobs')
      .select(['attempts', 'max_attempts'])
      .where('id', '=', jobId)
      .executeTakeFirst()
    if (job === undefined) throw jobNotFound(jobId)
    const attempts = Number(job.attempts)
    const common = { error: json(toJobError(error)), lease_expires_at: null, updated_at: at }
    const set =
      options.retryable && attempts < Number(job.max_attempts)
        ? {
            ...common,
            state: 'queued',
            run_after: new Date(
              now.getTime() + backoffDelay(attempts, this.backoff, this.random),
            ).toISOString(),
          }
        : { ...common, state: 'failed', finished_at: at }
    return toJob(await this.fenced(db, jobId, token, set, options.trx !== undefined))
  }

  async withLease<T>(jobId: string, token: number, fn: (trx: QueueTransaction) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        // A write first: SQLite takes its write lock now (a transaction that read first cannot upgrade under
        // contention), PostgreSQL locks the row; either way no claim can slip in before the commit.
        await this.fenced(trx, jobId, token, { updated_at: this.now().toISOString() }, true)
        return fn(trx)
      })
    } catch (error) {
      if (error instanceof LeaseLostError && error.reason === 'cancelled')
        await this.settleCancelled(this.db, jobId, token)
      throw error
    }
  }

  async cancel(jobId: string, reason: string): Promise<Job> {
    const at = this.now().toISOString()
    // One statement: a queued job finishes now; a running one is only marked, for its holder to see.
    const row = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: eb.case().when('state', '=', 'queued').then('cancelled').else(eb.ref('state')).end(),
        finished_at: eb.case().when('state', '=', 'queued').then(at).else(eb.ref('finished_at')).end(),
        cancel_reason: reason,
        updated_at: at,
      }))
      .where('id', '=', jobId)
      .where('state', 'in', unfinished)
      .returningAll()
      .executeTakeFirst()
    return row === undefined ? this.get(jobId) : toJob(row)
  }

  async get(jobId: string): Promise<Job> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst()
    if (row === undefined) throw jobNotFound(jobId)
    return toJob(row)
  }

  async list(
    filter: { readonly kind?: string; readonly state?: JobState; readonly limit?: number } = {},
  ): Promise<Job[]> {
    let query = this.db
      .selectFrom('jobs')
      .selectAll()
      .orderBy('seq')
      .limit(positiveInteger('limit', filter.limit ?? 1000))
    if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind)
    if (filter.state !== undefined) query = query.where('state', '=', filter.state)
    return (await query.execute()).map(toJob)
  }

  /** Applies `set` if `token` holds the lease of a running, uncancelled job; otherwise throws why not. */
  private async fenced(
    db: Kysely<Database>,
    jobId: string,
    token: number,
    set: Updateable<JobTable>,
    inTransaction = false,
  ): Promise<JobRow> {
    const row = await db
      .updateTable('jobs')
      .set(set)
      .where('id', '=', jobId)
      .where('token', '=', token)
      .where('state', '=', 'running')
      .where('cancel_reason', 'is', null)
      .returningAll()
      .executeTakeFirst()
    if (row !== undefined) return row
    const current = await db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst()
    if (current === undefined) throw jobNotFound(jobId)
    const lost = leaseLost(toJob(current), token)
    // Inside a transaction the caller's rollback would undo this; `withLease` settles it after the rollback.
    if (lost.reason === 'cancelled' && !inTransaction) await this.settleCancelled(db, jobId, token)
    throw lost
  }

  /** The holder has heard of the cancellation: the job is now `cancelled`. */
  private async settleCancelled(db: Kysely<Database>, jobId: string, token: number): Promise<void> {
    const at = this.now().toISOString()
    await db
      .updateTable('jobs')
      .set({ state: 'cancelled', lease_expires_at: null, updated_at: at, finished_at: at })
      .where('id', '=', jobId)
      .where('token', '=', token)
      .where('state', '=', 'running')
      .where('cancel_reason', 'is not', null)
      .execute()
  }

  /**
   * Finishes running jobs whose holder died and that nobody may claim again: cancellation was requested, or the
   * last attempt was used.
   */
  private async reapExpired(at: string): Promise<void> {
    const expired: JobError = {
      message:
        'the lease of the last attempt expired: its worker stopped heartbeating (it crashed or was paused)',
      code: 'LEASE_EXPIRED',
    }
    await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: eb.case().when('cancel_reason', 'is not', null).then('cancelled').else('failed').end(),
        error: eb
          .case()
          .when('cancel_reason', 'is not', null)
          .then(eb.ref('error'))
          .else(json(expired))
          .end(),
        lease_expires_at: null,
        updated_at: at,
        finished_at: at,
      }))
      .where('state', '=', 'running')
      .where('lease_expires_at', '<', at)
      .where((eb) =>
        eb.or([eb('cancel_reason', 'is not', null), eb('attempts', '>=', eb.ref('max_attempts'))]),
      )
      .execute()
  }
}
