import type { Transaction } from 'kysely'
import { FreshetError } from '../../core/errors.js'
import type { Database } from '../metadata/database.js'

/** `queued` → `running` → `succeeded` | `failed` | `cancelled`; a retry goes from `running` back to `queued`. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

/** What a job's last failure recorded. */
export interface JobError {
  readonly message: string
  readonly code?: string
}

export interface Job {
  readonly id: string
  readonly kind: string
  /** JSON value given to `enqueue`. */
  readonly payload: unknown
  readonly state: JobState
  readonly idempotencyKey: string | null
  /** Claims so far, counting a claim whose lease expired (its worker died) as an attempt. */
  readonly attempts: number
  readonly maxAttempts: number
  /** Fencing token of the latest claim (0 before the first). */
  readonly token: number
  /** Not claimed before this time. */
  readonly runAfter: Date
  /** Worker of the latest claim. */
  readonly leaseOwner: string | null
  readonly leaseExpiresAt: Date | null
  /** Set once cancellation was requested; a running job keeps running until its holder hears of it. */
  readonly cancelReason: string | null
  /** JSON value given to `complete`. */
  readonly result: unknown
  readonly error: JobError | null
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly finishedAt: Date | null
}

export interface NewJob {
  readonly kind: string
  /** Any JSON value. */
  readonly payload: unknown
  /** Coalesces duplicates: while a job of this kind with this key is queued or running, enqueue returns it. */
  readonly idempotencyKey?: string
  /** Earliest claim time; now when absent. */
  readonly runAfter?: Date
  /** Claims allowed before the job fails for good (default 5). */
  readonly maxAttempts?: number
}

/** A claimed job and the fencing token that proves the lease in every later call. */
export interface Claim {
  readonly job: Job
  readonly token: number
}

/** A transaction on the metadata database, for work that commits or rolls back together with the queue. */
export type QueueTransaction = Transaction<Database>

/** Retry delay after failed attempt n (1, 2, …): `min(maxMs, baseMs · factor^(n-1))`, less up to `jitter` of it. */
export interface Backoff {
  readonly baseMs: number
  readonly factor: number
  readonly maxMs: number
  /** Fraction (0–1) of the delay taken off at random, so retries of many jobs spread out. */
  readonly jitter: number
}

export const defaultBackoff: Backoff = { baseMs: 1_000, factor: 2, maxMs: 5 * 60_000, jitter: 0.2 }

/** What every adapter accepts, so tests can drive time and randomness. */
export interface JobQueueOptions {
  readonly now?: () => Date
  readonly backoff?: Partial<Backoff>
  /** Uniform in [0, 1); `Math.random` by default. */
  readonly random?: () => number
}

export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const delay = Math.min(backoff.maxMs, backoff.baseMs * backoff.factor ** Math.max(0, attempt - 1))
  return Math.round(delay * (1 - backoff.jitter * random()))
}

/**
 * Why a lease holder may no longer act for a job: another worker claimed it after the lease expired
 * (`superseded`), cancellation was requested (`cancelled`), or this attempt already ended (`finished`).
 */
export type LeaseLostReason = 'superseded' | 'cancelled' | 'finished'

/** `LEASE_LOST`: the caller must stop working on the job; nothing it asked for was changed. */
export class LeaseLostError extends FreshetError {
  constructor(
    readonly jobId: string,
    readonly reason: LeaseLostReason,
    message: string,
  ) {
    super('LEASE_LOST', message, {
      hint:
        reason === 'cancelled'
          ? 'the job was cancelled: stop its work'
          : 'stop working on the job: another attempt owns it',
    })
  }
}

/**
 * A durable job queue on the metadata database: at-least-once execution with leases, and at most one committed
 * attempt per job thanks to fencing tokens.
 *
 * Contract (checked by `describeJobQueueContract`):
 * - `claim` hands out due jobs ordered by `runAfter`, then enqueue order; one job goes to exactly one claimer,
 *   also across processes. Each claim increments the job's `token` and `attempts` and sets a lease.
 * - A running job whose lease expired is claimable again (its worker is presumed dead) and the claim counts as an
 *   attempt; once `maxAttempts` claims have expired the job is `failed`.
 * - `heartbeat`, `complete`, `fail` and `withLease` act only for the current token of a running job whose
 *   cancellation was not requested. Otherwise they throw {@link LeaseLostError} and change nothing. The holder's
 *   own lease having expired does not matter as long as nobody claimed the job since.
 * - "At most one attempt commits": a worker writes its results through `withLease` (or passes its transaction to
 *   `complete`), so they commit only together with a valid token.
 * - Cancelling a queued job finishes it at once; a running job finishes as `cancelled` when its holder next calls
 *   the queue (which throws `LEASE_LOST` with reason `cancelled`), or when its lease expires.
 * - Times come from the injected clock (`JobQueueOptions.now`), never from the database server, so the clocks of
 *   the processes sharing a queue must agree to well within a lease.
 *
 * @example
 * const claim = await queue.claim('worker-1', { kinds: ['train'], leaseMs: 30_000 })
 * if (claim !== undefined) {
 *   const version = await train(claim.job.payload) // calling queue.heartbeat(id, token, 30_000) meanwhile
 *   await queue.withLease(claim.job.id, claim.token, async (trx) => {
 *     await recordVersion(trx, version)
 *     await queue.complete(claim.job.id, claim.token, { version }, trx)
 *   })
 * }
 */
export interface JobQueue {
  /**
   * Adds a job, or returns the unfinished job of the same kind and idempotency key. Pass `trx` to enqueue in the
   * same transaction as the change that caused the job (it then appears only if that transaction commits).
   */
  enqueue(job: NewJob, trx?: QueueTransaction): Promise<Job>
  /** Leases the next due job (of one of `kinds`, when given) to `workerId` for `leaseMs`, or undefined when none. */
  claim(
    workerId: string,
    options: { readonly kinds?: readonly string[]; readonly leaseMs: number },
  ): Promise<Claim | undefined>
  /**
   * Extends the lease to `leaseMs` from now.
   * @throws LeaseLostError `LEASE_LOST` (reason `cancelled` when the job was cancelled); FreshetError `JOB_NOT_FOUND`
   */
  heartbeat(jobId: string, token: number, leaseMs: number): Promise<Job>
  /**
   * Finishes the attempt as `succeeded` with a JSON `result`. With `trx`, the job finishes only if `trx` commits;
   * inside `withLease`, pass its transaction (a query outside it would wait for it).
   * @throws LeaseLostError `LEASE_LOST`; FreshetError `JOB_NOT_FOUND`
   */
  complete(jobId: string, token: number, result?: unknown, trx?: QueueTransaction): Promise<Job>
  /**
   * Finishes the attempt as failed: back to `queued` after a backoff when `retryable` and attempts remain,
   * otherwise `failed`.
   * @throws LeaseLostError `LEASE_LOST`; FreshetError `JOB_NOT_FOUND`
   */
  fail(
    jobId: string,
    token: number,
    error: unknown,
    options: { readonly retryable: boolean; readonly trx?: QueueTransaction },
  ): Promise<Job>
  /**
   * Runs `fn` in a transaction that first checks the lease and holds it until commit: `fn`'s writes commit only
   * if `token` is current, and no claim can take the job in between. `fn` must use `trx` for every query.
   * @throws LeaseLostError `LEASE_LOST` (then `fn` did not run); whatever `fn` throws (then its writes are rolled back)
   */
  withLease<T>(jobId: string, token: number, fn: (trx: QueueTransaction) => Promise<T>): Promise<T>
  /**
   * Requests cancellation: a queued job becomes `cancelled` at once, a running one is marked (`cancelReason`) for
   * its holder. A finished job is returned unchanged.
   * @throws FreshetError `JOB_NOT_FOUND`
   */
  cancel(jobId: string, reason: string): Promise<Job>
  /** @throws FreshetError `JOB_NOT_FOUND` */
  get(jobId: string): Promise<Job>
  /** Jobs in enqueue order, optionally only one kind or state, at most `limit` (default 1000). */
  list(filter?: {
    readonly kind?: string
    readonly state?: JobState
    readonly limit?: number
  }): Promise<Job[]>
}
