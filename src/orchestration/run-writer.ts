import type { Updateable } from 'kysely'
import { FreshetError } from '../core/errors.js'
import type { RunStepTable } from '../storage/metadata/database.js'
import type { QueueTransaction } from '../storage/queue/job-queue.js'
import { insertEvent, json, toStep } from './run-rows.js'
import {
  isFinished,
  type RunError,
  type RunEvent,
  type RunEventBody,
  type RunOutcome,
  type RunState,
  type StepName,
  type StepStatus,
} from './run-types.js'

const terminalSteps = new Set<StepStatus>(['succeeded', 'failed', 'cancelled'])

/**
 * The writes of one attempt of a run, all in one transaction: use it inside the job's `withLease`, so they
 * commit only while the attempt holds the lease. Publish {@link events} after the commit.
 */
export class RunWriter {
  /** Events stored by this writer, to publish once the transaction committed. */
  readonly events: RunEvent[] = []

  constructor(
    readonly trx: QueueTransaction,
    readonly runId: string,
    readonly attempt: number,
    private readonly now: () => Date,
  ) {}

  /** The attempt starts: the run is running and every step pending again (an earlier attempt's work is void). */
  async start(workerId: string): Promise<void> {
    const at = this.now().toISOString()
    await this.trx
      .updateTable('runs')
      .set({
        state: 'running',
        attempt: this.attempt,
        started_at: at,
        updated_at: at,
        finished_at: null,
        error: null,
      })
      .where('id', '=', this.runId)
      .execute()
    await this.trx
      .updateTable('run_steps')
      .set({
        status: 'pending',
        attempt: this.attempt,
        started_at: null,
        finished_at: null,
        details: '{}',
        error: null,
      })
      .where('run_id', '=', this.runId)
      .execute()
    await this.event({
      type: 'state',
      state: 'running',
      message: `attempt ${this.attempt} started on worker ${workerId}`,
    })
  }

  /** Sets a step's status; `running` stamps its start, a final status its end. `details` merge into the step's. */
  async step(
    name: StepName,
    status: StepStatus,
    details?: Record<string, unknown>,
    error?: RunError,
  ): Promise<void> {
    const at = this.now().toISOString()
    const current = await this.trx
      .selectFrom('run_steps')
      .select(['details', 'started_at'])
      .where('run_id', '=', this.runId)
      .where('name', '=', name)
      .executeTakeFirst()
    if (current === undefined) throw new FreshetError('INTERNAL', `run ${this.runId} has no step ${name}`)
    const set: Updateable<RunStepTable> = { status, attempt: this.attempt }
    if (status === 'running') Object.assign(set, { started_at: at, finished_at: null })
    else if (terminalSteps.has(status))
      Object.assign(set, { started_at: current.started_at ?? at, finished_at: at })
    if (details !== undefined)
      set.details = json({ ...(JSON.parse(current.details) as Record<string, unknown>), ...details })
    if (error !== undefined) set.error = json(error)
    const row = await this.trx
      .updateTable('run_steps')
      .set(set)
      .where('run_id', '=', this.runId)
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirstOrThrow()
    await this.event({ type: 'step', step: toStep(row) })
  }

  /** Merges `details` into a step's without changing its status or times. */
  async annotate(name: StepName, details: Record<string, unknown>): Promise<void> {
    const current = await this.trx
      .selectFrom('run_steps')
      .select('details')
      .where('run_id', '=', this.runId)
      .where('name', '=', name)
      .executeTakeFirstOrThrow()
    const row = await this.trx
      .updateTable('run_steps')
      .set({ details: json({ ...(JSON.parse(current.details) as Record<string, unknown>), ...details }) })
      .where('run_id', '=', this.runId)
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirstOrThrow()
    await this.event({ type: 'step', step: toStep(row) })
  }

  /** Ends every unfinished step: the running one gets `status` (and `error`), pending ones are skipped. */
  async closeSteps(status: 'failed' | 'cancelled', error: RunError | null): Promise<void> {
    const steps = await this.trx
      .selectFrom('run_steps')
      .select(['name', 'status'])
      .where('run_id', '=', this.runId)
      .where('status', 'in', ['pending', 'running'])
      .orderBy('position')
      .execute()
    for (const step of steps) {
      const name = step.name as StepName
      if (step.status === 'running')
        await this.step(name, status, undefined, error === null ? undefined : { ...error, step: name })
      else await this.step(name, 'skipped')
    }
  }

  /** Sets the run's state (`queued` again for a retry) and what it produced. */
  async finish(
    state: RunState,
    fields: { message: string; outcome?: RunOutcome; lineage?: Record<string, unknown>; error?: RunError },
  ): Promise<void> {
    const at = this.now().toISOString()
    await this.trx
      .updateTable('runs')
      .set({
        state,
        updated_at: at,
        finished_at: isFinished(state) ? at : null,
        ...(fields.outcome === undefined ? {} : { outcome: json(fields.outcome) }),
        ...(fields.lineage === undefined ? {} : { lineage: json(fields.lineage) }),
        ...(fields.error === undefined ? {} : { error: json(fields.error) }),
      })
      .where('id', '=', this.runId)
      .execute()
    await this.event({ type: 'state', state, message: fields.message })
  }

  async event(body: RunEventBody): Promise<void> {
    this.events.push(await insertEvent(this.trx, this.runId, this.attempt, this.now().toISOString(), body))
  }
}
