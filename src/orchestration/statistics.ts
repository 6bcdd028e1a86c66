import type { GateVerdict } from '../evaluation/gate.js'
import type { Run, RunError, RunState, StepName, StepStatus, TriggerType } from './run-types.js'

/** One holdout metric of the run's model beside the previous production model's recorded value. */
export interface MetricComparison {
  readonly name: string
  readonly value: number
  /** Null when there was no production model, or it did not record this metric. */
  readonly previous: number | null
  readonly delta: number | null
}

/** What a finished run reports (the `done` event of its event stream, `freshet runs show`). */
export interface RunStatistics {
  readonly runId: string
  readonly pipeline: string
  readonly state: RunState
  readonly trigger: { readonly type: TriggerType; readonly actor: string; readonly reason: string | null }
  readonly createdAt: string
  readonly finishedAt: string | null
  /** From the first attempt's start to the end. */
  readonly durationMs: number | null
  /** The data the model was trained and evaluated on. */
  readonly data: {
    readonly dataset: string | null
    readonly batches: number | null
    readonly rows: { readonly train: number; readonly holdout: number; readonly unlabelled: number } | null
    readonly eventTimes: {
      readonly min: string | null
      readonly max: string | null
      readonly holdoutFrom: string | null
    } | null
  }
  readonly metrics: readonly MetricComparison[]
  readonly previousVersion: number | null
  readonly gate: GateVerdict | null
  readonly model: { readonly version: number; readonly status: string } | null
  readonly deployed: boolean
  readonly steps: readonly {
    readonly name: StepName
    readonly status: StepStatus
    readonly durationMs: number | null
  }[]
  readonly error: RunError | null
}

/** The metrics of a candidate beside those recorded for the previous production model. */
export function compareMetrics(
  metrics: Record<string, number>,
  previous: Record<string, unknown> | undefined,
): MetricComparison[] {
  return Object.entries(metrics).map(([name, value]) => {
    const before = previous?.[name]
    const prior = typeof before === 'number' ? before : null
    return { name, value, previous: prior, delta: prior === null ? null : value - prior }
  })
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined

/** The statistics of a run, from what it stored: its steps, lineage and outcome. */
export function runStatistics(run: Run): RunStatistics {
  const resolve = run.steps.find((s) => s.name === 'resolve-data')?.details ?? {}
  const evaluate = run.steps.find((s) => s.name === 'evaluate')?.details ?? {}
  const lineage = run.lineage ?? {}
  const rows = record(lineage.rows)
  const times = record(lineage.eventTimes)
  const batches = Array.isArray(lineage.batches)
    ? lineage.batches.length
    : typeof resolve.batches === 'number'
      ? resolve.batches
      : null
  const previous = record(evaluate.previous)
  const started =
    run.steps
      .map((s) => s.startedAt)
      .filter((t): t is string => t !== null)
      .sort()[0] ?? run.startedAt
  return {
    runId: run.id,
    pipeline: run.pipeline,
    state: run.state,
    trigger: { type: run.trigger.type, actor: run.trigger.actor, reason: run.trigger.reason ?? null },
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
    durationMs:
      started === null || run.finishedAt === null
        ? null
        : Math.max(0, Date.parse(run.finishedAt) - Date.parse(started)),
    data: {
      dataset:
        typeof lineage.dataset === 'string'
          ? lineage.dataset
          : typeof resolve.dataset === 'string'
            ? resolve.dataset
            : null,
      batches,
      rows:
        rows === undefined
          ? null
          : {
              train: Number(rows.train),
              holdout: Number(rows.holdout),
              unlabelled: Number(rows.unlabelled ?? 0),
            },
      eventTimes:
        times === undefined
          ? typeof resolve.minEventTime === 'string' || typeof resolve.maxEventTime === 'string'
            ? {
                min: (resolve.minEventTime as string | null) ?? null,
                max: (resolve.maxEventTime as string | null) ?? null,
                holdoutFrom: null,
              }
            : null
          : {
              min: (times.min as string | null) ?? null,
              max: (times.max as string | null) ?? null,
              holdoutFrom: (times.holdoutFrom as string | null) ?? null,
            },
    },
    metrics: Array.isArray(evaluate.comparison) ? (evaluate.comparison as MetricComparison[]) : [],
    previousVersion:
      typeof previous?.version === 'number' ? previous.version : (run.outcome?.previousProduction ?? null),
    gate: run.outcome?.gate ?? (record(evaluate.gate) as GateVerdict | undefined) ?? null,
    model:
      run.outcome === null || run.outcome.modelVersion === null
        ? null
        : { version: run.outcome.modelVersion, status: run.outcome.modelStatus ?? 'registered' },
    deployed: run.outcome?.deployed ?? false,
    steps: run.steps.map((s) => ({ name: s.name, status: s.status, durationMs: s.durationMs })),
    error: run.error,
  }
}
