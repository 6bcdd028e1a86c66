// The shapes of the JSON the dashboard reads, as the server's routes send them (src/server/*-routes.ts). Only the
// fields the dashboard uses are declared.

export interface ApiProblem {
  code: string
  message: string
  hint?: string
}

export interface PipelineSummary {
  name: string
  dataset: string
  mode: string
  task: string
  production: number | null
  versions: number
  metrics: Record<string, unknown> | null
  lastTrainedAt: string | null
}

export type RunState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'

export interface RunError {
  code: string
  message: string
  hint?: string
  step?: string
}

export interface RunStep {
  name: string
  status: StepStatus
  startedAt: string | null
  finishedAt: string | null
  durationMs: number | null
  details: Record<string, unknown>
  error: RunError | null
}

export interface GateVerdict {
  passed: boolean
  metric: string | null
  value: number | null
  min: number | null
  maxRegression?: number | string | null
  baseline?: { version: number; value: number | null; problem: string | null } | null
  regression?: number | null
  allowedRegression?: number | null
  reasons: string[]
  notes?: string[]
}

export interface Run {
  id: string
  pipeline: string
  state: RunState
  trigger: { type: string; actor: string; reason?: string }
  attempt: number
  cancelReason: string | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  steps: RunStep[]
  outcome: {
    modelVersion: number | null
    modelStatus: 'registered' | 'rejected' | null
    gate: GateVerdict | null
    deployed: boolean
    previousProduction: number | null
    metrics: Record<string, number> | null
  } | null
  error: RunError | null
}

export interface MetricComparison {
  name: string
  value: number
  previous: number | null
  delta: number | null
}

export interface RunStatistics {
  runId: string
  pipeline: string
  state: RunState
  trigger: { type: string; actor: string; reason: string | null }
  createdAt: string
  finishedAt: string | null
  durationMs: number | null
  data: {
    dataset: string | null
    batches: number | null
    rows: { train: number; holdout: number; unlabelled: number } | null
    eventTimes: { min: string | null; max: string | null; holdoutFrom: string | null } | null
  }
  metrics: MetricComparison[]
  previousVersion: number | null
  gate: GateVerdict | null
  model: { version: number; status: string } | null
  deployed: boolean
  steps: { name: string; status: StepStatus; durationMs: number | null }[]
  error: RunError | null
}

export interface RunProgress {
  examples: number
  total: number
  epoch: number
  epochs: number | null
  loss: number
  fraction: number
  examplesPerSecond: number | null
  etaSeconds: number | null
}

interface EventBase {
  runId: string
  seq: number
  attempt: number
  at: string
}

export type RunEvent = EventBase &
  (
    | { type: 'state'; state: RunState; message: string }
    | { type: 'step'; step: RunStep }
    | { type: 'phase'; phase: string; message: string }
    | ({ type: 'progress' } & RunProgress)
    | { type: 'log'; lines: { stream: 'stdout' | 'stderr'; line: string }[] }
  )

export interface ModelVersion {
  pipeline: string
  version: number
  status: 'registered' | 'rejected'
  task: string
  trainer: string
  manifestSha256: string
  sizeBytes: number
  metrics: Record<string, unknown>
  lineage: Record<string, unknown>
  createdAt: string
}

export interface AliasMove {
  pipeline: string
  alias: string
  fromVersion: number | null
  toVersion: number | null
  actor: string
  reason: string
  at: string
}

export interface ModelsView {
  pipeline: string
  aliases: Record<string, number>
  versions: ModelVersion[]
  history: AliasMove[]
}

export interface DeployOutcome {
  pipeline: string
  alias: string
  from: number | null
  to: number
  changed: boolean
}

export type BatchState = 'accepted' | 'quarantined' | 'released' | 'discarded'

export interface Batch {
  id: string
  dataset: string
  seq: number
  sourceName: string
  format: string
  sizeBytes: number
  rows: number
  state: BatchState
  schemaVersion: number
  minEventTime: string | null
  maxEventTime: string | null
  createdAt: string
  parentId: string | null
}

export interface ColumnStatistics {
  name: string
  type: string
  count: number
  missing: number
  distinct: number
  numeric?: {
    min: number
    max: number
    mean: number
    std: number
    quantiles: Record<string, number>
    histogram: { edges: number[]; counts: number[] }
    nan: number
    infinite: number
  }
  string?: { top: { value: string; count: number }[]; meanLength: number }
  boolean?: { trueCount: number; falseCount: number }
  timestamp?: { min: string; max: string }
}

export interface Anomaly {
  code: string
  column: string | null
  severity: 'blocking' | 'warning'
  value: number
  threshold: number | null
  message: string
  examples: number[]
  values?: string[]
}

export interface ValidationReport {
  anomalies: Anomaly[]
  scores: Record<string, { missing: number; drift?: { metric: string; value: number }; skew?: { metric: string; value: number } }>
  badRows: { count: number; reasons: Record<string, number> }
  validatedAt: string
}

export interface DatasetSummary {
  name: string
  batches: number
  rows: number
  states: Record<string, number>
  schemaVersion: number | null
  lastIngestedAt: string | null
}

export interface DatasetOverview {
  dataset: string
  schema: { version: number; columns: { name: string; type: string }[] } | undefined
  rows: number
  batches: (Batch & { statistics: ColumnStatistics[] | undefined; validation: ValidationReport | undefined })[]
  statistics: ColumnStatistics[]
  minEventTime: string | null
  maxEventTime: string | null
}

export interface QuarantinedBatch {
  batch: Batch
  anomalies: Anomaly[]
  report: ValidationReport | undefined
  history: { action: 'quarantine' | 'release' | 'discard'; actor: string; reason: string; at: string }[]
}

// Monitoring (src/monitoring/status.ts, src/server/feedback-routes.ts).

export interface FeatureDrift {
  kind: 'numeric' | 'categorical'
  distance: number | null
  present: number
  missing: number
}

export interface VersionOnline {
  version: number
  served: number
  labelled: number
  requests: number
  errors: number
  errorRate: number | null
  metrics: Record<string, number | null>
  sampled: boolean
}

export interface MonitorWindow {
  start: string
  end: string
  version: number | null
  rows: number
  sampled: boolean
  drift: number | null
  predictionDrift: number | null
  features: Record<string, FeatureDrift>
  online: VersionOnline[]
  note: string | null
  computedAt: string
  complete: boolean
}

export interface Staleness {
  version: number | null
  newestData: string | null
  dataHours: number | null
  dataBudget: string | null
  dataOverBudget: boolean | null
  lastDeploy: string | null
  deployHours: number | null
  deployBudget: string | null
  deployOverBudget: boolean | null
}

export interface MonitorRuleState {
  name: string
  when: string
  for: string
  then: string[]
  state: string
  since: string | null
  values: Record<string, number | null>
}

export interface RuleEvent {
  id: string
  rule: string
  transition: 'firing' | 'resolved'
  condition: string
  values: Record<string, unknown>
  actions: { action: string; ok: boolean; detail: string }[]
  at: string
}

export interface MonitoringStatus {
  pipeline: string
  production: number | null
  window: string
  minRows: number
  windows: MonitorWindow[]
  staleness: Staleness
  rules: MonitorRuleState[]
  events: RuleEvent[]
}

export interface OnlineView {
  pipeline: string
  task: string
  window: string
  since: string
  until: string
  production: number | null
  versions: VersionOnline[]
}

export interface Canary {
  id: string
  version: number
  baselineVersion: number
  percent: number
  state: string
  forced: boolean
  actor: string
  reason: string
  startedAt: string
  bakeUntil: string
  extensions: number
}
