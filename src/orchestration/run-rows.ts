import { sql, type Selectable } from 'kysely'
import { FreshetError, isFreshetError } from '../core/errors.js'
import type { MetadataDb, RunEventTable, RunStepTable, RunTable } from '../storage/metadata/database.js'
import { withWriteLock } from '../storage/metadata/write-locks.js'
import type {
  Run,
  RunError,
  RunEvent,
  RunEventBody,
  RunOutcome,
  RunState,
  RunStep,
  RunTrigger,
  StepName,
  StepStatus,
  TriggerType,
} from './run-types.js'

// How runs look in the `runs`, `run_steps` and `run_events` tables: ISO 8601 strings for times, JSON text for
// documents.

export const json = (value: unknown): string => JSON.stringify(value) ?? 'null'
const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T))

export function durationMs(startedAt: string | null, finishedAt: string | null): number | null {
  if (startedAt === null || finishedAt === null) return null
  return Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt))
}

export function toStep(row: Selectable<RunStepTable>): RunStep {
  return {
    name: row.name as StepName,
    status: row.status as StepStatus,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: durationMs(row.started_at, row.finished_at),
    details: parse<Record<string, unknown>>(row.details) ?? {},
    error: parse<RunError>(row.error),
  }
}

export function toRun(row: Selectable<RunTable>, steps: readonly Selectable<RunStepTable>[]): Run {
  const details = parse<Record<string, unknown>>(row.trigger_details)
  const trigger: RunTrigger = {
    type: row.trigger as TriggerType,
    actor: row.actor,
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(details === null ? {} : { details }),
  }
  return {
    id: row.id,
    pipeline: row.pipeline,
    state: row.state as RunState,
    trigger,
    jobId: row.job_id,
    idempotencyKey: row.idempotency_key,
    attempt: Number(row.attempt),
    cancelReason: row.cancel_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    steps: [...steps].sort((a, b) => Number(a.position) - Number(b.position)).map(toStep),
    outcome: parse<RunOutcome>(row.outcome),
    lineage: parse<Record<string, unknown>>(row.lineage),
    error: parse<RunError>(row.error),
  }
}

export function toEvent(row: Selectable<RunEventTable>): RunEvent {
  const data = JSON.parse(row.data) as Record<string, unknown>
  return {
    type: row.type,
    ...data,
    runId: row.run_id,
    seq: Number(row.seq),
    attempt: Number(row.attempt),
    at: row.at,
  } as RunEvent
}

/**
 * Appends an event to a run's history: its number is taken inside the insert, so writers never share one (on
 * PostgreSQL, holding the run's row: see withWriteLock).
 */
export async function insertEvent(
  db: MetadataDb,
  runId: string,
  attempt: number,
  at: string,
  body: RunEventBody,
): Promise<RunEvent> {
  const { type, ...data } = body
  // The run's row rather than a key of its own: writers that change the run's state hold that row already, so
  // they and event writers wait on one lock, never on each other's two.
  const row = await withWriteLock(db, { row: 'runs', id: runId }, (db) =>
    db
      .insertInto('run_events')
      .values({
        run_id: runId,
        seq: sql<number>`(select coalesce(max(seq), 0) + 1 from run_events where run_id = ${runId})`,
        attempt,
        type,
        at,
        data: json(data),
      })
      .returning('seq')
      .executeTakeFirstOrThrow(),
  )
  return { ...body, runId, seq: Number(row.seq), attempt, at }
}

export function toRunError(error: unknown, step?: StepName): RunError {
  const where = step === undefined ? {} : { step }
  if (isFreshetError(error))
    return {
      code: error.code,
      message: error.message,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
      ...where,
    }
  if (error instanceof Error) return { code: 'INTERNAL', message: error.message, ...where }
  return { code: 'INTERNAL', message: String(error), ...where }
}

export function runNotFound(runId: string): FreshetError {
  return new FreshetError('RUN_NOT_FOUND', `there is no run ${JSON.stringify(runId)}`, {
    hint: 'list runs with `freshet runs`',
  })
}
