import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { FreshetError } from '../core/errors.js'
import { assertName } from '../core/names.js'
import type { MetadataDb } from '../storage/metadata/database.js'
import type { JobError, JobQueue, QueueTransaction } from '../storage/queue/job-queue.js'
import { RunEventBus } from './run-events.js'
import { insertEvent, json, runNotFound, toEvent, toRun } from './run-rows.js'
import { RunWriter } from './run-writer.js'
import {
  isFinished,
  stepNames,
  type NewRun,
  type Run,
  type RunError,
  type RunEvent,
  type RunEventBody,
  type RunState,
} from './run-types.js'

/** The queue job kind that executes runs; its payload is `{ runId }`. */
export const runJobKind = 'run'

const unfinished: RunState[] = ['queued', 'running']

export interface RunsOptions {
  readonly now?: () => Date
  readonly bus?: RunEventBus
  /** Attempts a run gets (claims, counting a crashed worker's); default 3. */
  readonly maxAttempts?: number
}

export const newRunId = (): string => `r_${randomBytes(6).toString('hex')}`

/**
 * Runs of pipelines: each is a row with its five steps and its event history, executed by a `run` job of the
 * queue. Enqueueing inserts both in one transaction; workers write through {@link RunWriter} inside the job's
 * lease transaction, so a worker that lost its lease changes nothing.
 */
export class Runs {
  readonly bus: RunEventBus
  readonly now: () => Date
  private readonly maxAttempts: number

  constructor(
    private readonly db: MetadataDb,
    private readonly queue: JobQueue,
    options: RunsOptions = {},
  ) {
    this.bus = options.bus ?? new RunEventBus()
    this.now = options.now ?? (() => new Date())
    this.maxAttempts = options.maxAttempts ?? 3
  }

  /**
   * Creates a queued run and its job, or returns the unfinished run with the same pipeline and idempotency key.
   * With `trx`, both appear only if that transaction commits (a trigger enqueues together with what caused it).
   * The pipeline must exist in the configuration; callers check it (this class does not read configuration).
   */
  async enqueue(spec: NewRun, trx?: QueueTransaction): Promise<Run> {
    assertName('pipeline', spec.pipeline)
    const id = newRunId()
    const at = this.now().toISOString()
    const work = async (db: QueueTransaction): Promise<{ runId: string; events: RunEvent[] }> => {
      // The job's insert comes first: a write, so SQLite takes its write lock at once.
      const job = await this.queue.enqueue(
        {
          kind: runJobKind,
          payload: { runId: id },
          maxAttempts: this.maxAttempts,
          ...(spec.idempotencyKey === undefined
            ? {}
            : { idempotencyKey: `${spec.pipeline}:${spec.idempotencyKey}` }),
          ...(spec.runAfter === undefined ? {} : { runAfter: spec.runAfter }),
        },
        db,
      )
      const existing = (job.payload as { runId?: unknown } | null)?.runId
      if (existing !== id) {
        if (typeof existing !== 'string')
          throw new FreshetError(
            'INTERNAL',
            `job ${job.id} holds the idempotency key of run ${spec.pipeline}/${spec.idempotencyKey} but is not a run`,
          )
        return { runId: existing, events: [] }
      }
      await db
        .insertInto('runs')
        .values({
          id,
          seq: sql<number>`(select coalesce(max(seq), 0) + 1 from runs)`,
          pipeline: spec.pipeline,
          state: 'queued',
          trigger: spec.trigger.type,
          actor: spec.trigger.actor,
          reason: spec.trigger.reason ?? null,
          trigger_details: spec.trigger.details === undefined ? null : json(spec.trigger.details),
          job_id: job.id,
          idempotency_key: spec.idempotencyKey ?? null,
          attempt: 0,
          cancel_reason: null,
          error: null,
          outcome: null,
          lineage: null,
          created_at: at,
          updated_at: at,
          started_at: null,
          finished_at: null,
        })
        .execute()
      await db
        .insertInto('run_steps')
        .values(
          stepNames.map((name, position) => ({
            run_id: id,
            name,
            position,
            status: 'pending',
            attempt: 0,
            started_at: null,
            finished_at: null,
            details: '{}',
            error: null,
          })),
        )
        .execute()
      const by = `${spec.trigger.type} trigger (${spec.trigger.actor})`
      const event = await insertEvent(db, id, 0, at, {
        type: 'state',
        state: 'queued',
        message: `queued by the ${by}${spec.trigger.reason === undefined ? '' : `: ${spec.trigger.reason}`}`,
      })
      return { runId: id, events: [event] }
    }
    const { runId, events } = trx === undefined ? await this.db.transaction().execute(work) : await work(trx)
    const run = await this.read(runId, trx ?? this.db)
    if (trx === undefined) for (const event of events) this.bus.publish(event)
    this.bus.enqueued(runId)
    return run
  }

  /** @throws FreshetError `RUN_NOT_FOUND` */
  async get(runId: string): Promise<Run> {
    return this.read(runId, this.db)
  }

  /** Runs, newest first. */
  async list(
    filter: { readonly pipeline?: string; readonly state?: RunState; readonly limit?: number } = {},
  ): Promise<Run[]> {
    let query = this.db
      .selectFrom('runs')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(Math.max(1, Math.min(filter.limit ?? 50, 1000)))
    if (filter.pipeline !== undefined) query = query.where('pipeline', '=', filter.pipeline)
    if (filter.state !== undefined) query = query.where('state', '=', filter.state)
    const rows = await query.execute()
    if (rows.length === 0) return []
    const steps = await this.db
      .selectFrom('run_steps')
      .selectAll()
      .where(
        'run_id',
        'in',
        rows.map((r) => r.id),
      )
      .execute()
    return rows.map((row) =>
      toRun(
        row,
        steps.filter((s) => s.run_id === row.id),
      ),
    )
  }

  /** The run's stored events after `afterSeq`, in order, at most `limit` (default 1000). */
  async events(
    runId: string,
    options: { readonly afterSeq?: number; readonly limit?: number } = {},
  ): Promise<RunEvent[]> {
    const rows = await this.db
      .selectFrom('run_events')
      .selectAll()
      .where('run_id', '=', runId)
      .where('seq', '>', options.afterSeq ?? 0)
      .orderBy('seq')
      .limit(options.limit ?? 1000)
      .execute()
    return rows.map(toEvent)
  }

  /** The last `limit` lines the run's trainer wrote (stdout and stderr). */
  async logs(runId: string, limit = 20): Promise<{ stream: 'stdout' | 'stderr'; line: string }[]> {
    const rows = await this.db
      .selectFrom('run_events')
      .selectAll()
      .where('run_id', '=', runId)
      .where('type', '=', 'log')
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute()
    const lines = rows.reverse().flatMap((row) => {
      const event = toEvent(row)
      return event.type === 'log' ? event.lines : []
    })
    return lines.slice(-limit)
  }

  /**
   * Requests cancellation: a queued run is cancelled at once; a running one when its worker hears of it (at once
   * in this process, else at its next heartbeat), which kills its trainer. A finished run is returned unchanged.
   * @throws FreshetError `RUN_NOT_FOUND`
   */
  async cancel(runId: string, request: { readonly reason: string; readonly actor: string }): Promise<Run> {
    const run = await this.get(runId)
    if (isFinished(run.state)) return run
    const reason = `${request.reason} (by ${request.actor})`
    const job = await this.queue.cancel(run.jobId, reason)
    if (job.state === 'cancelled') {
      await this.settleCancelled(runId, null, reason)
    } else if (job.state === 'running') {
      const at = this.now().toISOString()
      const event = await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('runs')
          .set({ cancel_reason: reason, updated_at: at })
          .where('id', '=', runId)
          .where('state', 'in', unfinished)
          .execute()
        return insertEvent(trx, runId, run.attempt, at, {
          type: 'state',
          state: 'running',
          message: `cancellation requested: ${reason}`,
        })
      })
      this.bus.publish(event)
      this.bus.cancelRequested(runId)
    } else {
      await this.reconcile()
    }
    return this.get(runId)
  }

  /**
   * Finishes runs whose job finished without them: cancelled while queued (between the two writes of `cancel`),
   * or failed because the lease of its last attempt expired (the worker died). Workers call it as they poll.
   * @returns how many runs it finished
   */
  async reconcile(): Promise<number> {
    const stale = await this.db
      .selectFrom('runs')
      .innerJoin('jobs', 'jobs.id', 'runs.job_id')
      .select([
        'runs.id as id',
        'jobs.state as jobState',
        'jobs.error as jobError',
        'jobs.cancel_reason as jobCancelReason',
      ])
      .where('runs.state', 'in', unfinished)
      .where('jobs.state', 'in', ['succeeded', 'failed', 'cancelled'])
      .execute()
    for (const row of stale) {
      if (row.jobState === 'cancelled') {
        await this.settleCancelled(row.id, null, row.jobCancelReason ?? 'cancelled')
      } else {
        const error = row.jobError === null ? null : (JSON.parse(row.jobError) as JobError)
        await this.settleFailed(row.id, {
          code: error?.code ?? 'INTERNAL',
          message: error?.message ?? `the run's job ended ${row.jobState} without finishing the run`,
        })
      }
    }
    return stale.length
  }

  /** The unfinished run is cancelled: its running step cancelled, its pending ones skipped (only for `attempt`, when given). */
  async settleCancelled(runId: string, attempt: number | null, reason: string): Promise<void> {
    await this.settle(runId, attempt, 'cancelled', { message: `cancelled: ${reason}`, cancelReason: reason })
  }

  /** The unfinished run failed outside any worker's lease (its last worker died). */
  async settleFailed(runId: string, error: RunError): Promise<void> {
    await this.settle(runId, null, 'failed', { message: `failed: ${error.message}`, error })
  }

  /** Writes of the holder of a run's job, inside its lease transaction `trx` (see `JobQueue.withLease`). */
  writer(trx: QueueTransaction, runId: string, attempt: number): RunWriter {
    return new RunWriter(trx, runId, attempt, this.now)
  }

  /** Stores an event outside any lease (progress, logs: history only) and publishes it. */
  async append(runId: string, attempt: number, body: RunEventBody): Promise<RunEvent> {
    const event = await insertEvent(this.db, runId, attempt, this.now().toISOString(), body)
    this.bus.publish(event)
    return event
  }

  private async settle(
    runId: string,
    attempt: number | null,
    state: 'cancelled' | 'failed',
    fields: { message: string; cancelReason?: string; error?: RunError },
  ): Promise<void> {
    const at = this.now().toISOString()
    const events = await this.db.transaction().execute(async (trx) => {
      let update = trx
        .updateTable('runs')
        .set((eb) => ({
          state,
          finished_at: at,
          updated_at: at,
          ...(fields.cancelReason === undefined
            ? {}
            : { cancel_reason: eb.fn.coalesce('cancel_reason', eb.val(fields.cancelReason)) }),
          ...(fields.error === undefined ? {} : { error: json(fields.error) }),
        }))
        .where('id', '=', runId)
        .where('state', 'in', unfinished)
      if (attempt !== null) update = update.where('attempt', '=', attempt)
      const updated = await update.returning('attempt').executeTakeFirst()
      if (updated === undefined) return []
      const writer = new RunWriter(trx, runId, Number(updated.attempt), this.now)
      await writer.closeSteps(state === 'cancelled' ? 'cancelled' : 'failed', fields.error ?? null)
      await writer.event({ type: 'state', state, message: fields.message })
      return writer.events
    })
    for (const event of events) this.bus.publish(event)
  }

  private async read(runId: string, db: MetadataDb): Promise<Run> {
    const row = await db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst()
    if (row === undefined) throw runNotFound(runId)
    const steps = await db.selectFrom('run_steps').selectAll().where('run_id', '=', runId).execute()
    return toRun(row, steps)
  }
}
