import type { Insertable, Selectable } from 'kysely'
import { FreshetError, isFreshetError } from '../../core/errors.js'
import type { JobTable } from '../metadata/database.js'
import { LeaseLostError, type Job, type JobError, type JobState, type NewJob } from './job-queue.js'

// How jobs look in the `jobs` table: ISO 8601 strings for times, JSON text for payload, result and error.

export type JobRow = Selectable<JobTable>

export const json = (value: unknown): string => JSON.stringify(value) ?? 'null'
const date = (iso: string | null): Date | null => (iso === null ? null : new Date(iso))

export function toJob(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state as JobState,
    idempotencyKey: row.idempotency_key,
    // PostgreSQL returns bigint columns as strings.
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    token: Number(row.token),
    runAfter: new Date(row.run_after),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: date(row.lease_expires_at),
    cancelReason: row.cancel_reason,
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    error: row.error === null ? null : (JSON.parse(row.error) as JobError),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    finishedAt: date(row.finished_at),
  }
}

export function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new FreshetError('USAGE', `${name} must be a positive integer, got ${value}`)
  }
  return value
}

/** The row of a new job, without `id` and `seq`. */
export function newJobRow(job: NewJob, now: Date): Omit<Insertable<JobTable>, 'id' | 'seq'> {
  if (job.kind === '') throw new FreshetError('USAGE', 'a job needs a kind')
  const runAfter = job.runAfter ?? now
  if (Number.isNaN(runAfter.getTime())) {
    throw new FreshetError('USAGE', `job ${job.kind}: runAfter is not a valid date`)
  }
  return {
    kind: job.kind,
    payload: json(job.payload),
    state: 'queued',
    idempotency_key: job.idempotencyKey ?? null,
    attempts: 0,
    max_attempts: positiveInteger('maxAttempts', job.maxAttempts ?? 5),
    token: 0,
    run_after: runAfter.toISOString(),
    lease_owner: null,
    lease_expires_at: null,
    cancel_reason: null,
    result: null,
    error: null,
    created_at: now.toISOString(),
    updated_at: now.toISOString(),
    finished_at: null,
  }
}

export function toJobError(error: unknown): JobError {
  if (isFreshetError(error)) return { message: error.message, code: error.code }
  if (error instanceof Error) return { message: error.message }
  return { message: String(error) }
}

export function jobNotFound(jobId: string): FreshetError {
  return new FreshetError('JOB_NOT_FOUND', `there is no job ${jobId}`)
}

/** Why `token` could not act on the job as it is now. */
export function leaseLost(job: Job, token: number): LeaseLostError {
  if (job.token !== token) {
    const holder = job.leaseOwner ?? 'another worker'
    return new LeaseLostError(
      job.id,
      'superseded',
      `job ${job.id}: token ${token} is stale, ${holder} claimed it since (token ${job.token}); nothing was changed`,
    )
  }
  if (job.cancelReason !== null && (job.state === 'running' || job.state === 'cancelled')) {
    return new LeaseLostError(
      job.id,
      'cancelled',
      `job ${job.id} was cancelled (${job.cancelReason}); nothing was changed`,
    )
  }
  return new LeaseLostError(
    job.id,
    'finished',
    `job ${job.id}: attempt ${token} already ended (the job is ${job.state}); nothing was changed`,
  )
}
