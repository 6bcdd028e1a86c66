import type { GateVerdict } from '../evaluation/gate.js'

/** `queued` → `running` → `succeeded` | `failed` | `cancelled`; a retried attempt goes back to `queued`. */
export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

/** The steps of every run, in order. */
export const stepNames = ['resolve-data', 'train', 'evaluate', 'register', 'deploy'] as const
export type StepName = (typeof stepNames)[number]

/** `skipped`: not needed (the gate failed, deploy.auto is false) or not reached (an earlier step failed). */
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'

/** What started a run: an operator (`manual`), a trigger, or a monitor rule's `retrain` action. */
export type TriggerType = 'manual' | 'schedule' | 'storage' | 'data' | 'monitor'

export interface RunTrigger {
  readonly type: TriggerType
  /** Who or what: `cli`, `api`, a user name, a trigger's name. */
  readonly actor: string
  readonly reason?: string
  /** What the trigger saw (a file, a row count, a schedule time): JSON. */
  readonly details?: Record<string, unknown>
}

export interface RunError {
  readonly code: string
  readonly message: string
  readonly hint?: string
  /** The step that failed. */
  readonly step?: StepName
}

export interface RunStep {
  readonly name: StepName
  readonly status: StepStatus
  readonly startedAt: string | null
  readonly finishedAt: string | null
  readonly durationMs: number | null
  /** The step's metrics and details (JSON). */
  readonly details: Record<string, unknown>
  readonly error: RunError | null
}

/** What a finished run produced. */
export interface RunOutcome {
  readonly modelVersion: number | null
  /** `rejected` when the version failed its gate. */
  readonly modelStatus: 'registered' | 'rejected' | null
  readonly gate: GateVerdict | null
  readonly deployed: boolean
  /** The production version when the run resolved its data. */
  readonly previousProduction: number | null
  readonly metrics: Record<string, number> | null
  /** The canary the run started instead of moving production (`deploy.canary`). */
  readonly canary?: { readonly version: number; readonly percent: number; readonly bakeUntil: string }
}

export interface Run {
  readonly id: string
  readonly pipeline: string
  readonly state: RunState
  readonly trigger: RunTrigger
  /** The queue job that executes the run. */
  readonly jobId: string
  readonly idempotencyKey: string | null
  /** Fencing token of the attempt that last started the run; 0 while it never started. */
  readonly attempt: number
  /** Set once cancellation was requested. */
  readonly cancelReason: string | null
  readonly createdAt: string
  readonly updatedAt: string
  readonly startedAt: string | null
  readonly finishedAt: string | null
  readonly steps: readonly RunStep[]
  readonly outcome: RunOutcome | null
  /** The trained model's lineage: batches, rows, event times, config hash, trainer, timings. */
  readonly lineage: Record<string, unknown> | null
  readonly error: RunError | null
}

export interface NewRun {
  readonly pipeline: string
  readonly trigger: RunTrigger
  /**
   * Duplicate triggers coalesce: while a run of this pipeline with this key is queued or running, enqueueing
   * returns it instead of a new run.
   */
  readonly idempotencyKey?: string
  /** Earliest start; now when absent. */
  readonly runAfter?: Date
}

/** Training progress as a run reports it: examples over all epochs, with a rate and an ETA. */
export interface RunProgress {
  readonly examples: number
  /** Examples the whole fit will see (rows × epochs), as far as known. */
  readonly total: number
  readonly epoch: number
  /** Null when the trainer does not say (a custom trainer). */
  readonly epochs: number | null
  readonly loss: number
  /** 0–1. */
  readonly fraction: number
  readonly examplesPerSecond: number | null
  readonly etaSeconds: number | null
}

export type RunEventBody =
  | { readonly type: 'state'; readonly state: RunState; readonly message: string }
  | { readonly type: 'step'; readonly step: RunStep }
  | { readonly type: 'phase'; readonly phase: string; readonly message: string }
  | ({ readonly type: 'progress' } & RunProgress)
  | {
      readonly type: 'log'
      readonly lines: readonly { readonly stream: 'stdout' | 'stderr'; readonly line: string }[]
    }

/** Something a run reported; stored in order (`seq` 1, 2, 3… per run) and published to in-process listeners. */
export type RunEvent = {
  readonly runId: string
  readonly seq: number
  readonly attempt: number
  readonly at: string
} & RunEventBody

const finished = new Set<RunState>(['succeeded', 'failed', 'cancelled'])

export function isFinished(state: RunState): boolean {
  return finished.has(state)
}

export const runIdPattern = /^r_[0-9a-f]{12}$/
