import type { Kysely } from 'kysely'

/**
 * The metadata schema, shared by every SQL adapter. Times are ISO 8601 UTC strings and JSON documents are text,
 * so the same migrations run unchanged on SQLite and PostgreSQL.
 */
export interface DatasetTable {
  name: string
  created_at: string
}

export interface SchemaVersionTable {
  dataset: string
  version: number
  /** JSON: `SchemaColumn[]`. */
  columns: string
  /** `config` when declared, `inferred` when read from a batch. */
  source: string
  /** Batch the schema was inferred from, when inferred. */
  batch_id: string | null
  fingerprint: string
  created_at: string
}

export interface BatchTable {
  id: string
  dataset: string
  sha256: string
  source_name: string
  format: string
  compression: string
  size_bytes: number
  row_count: number
  state: string
  schema_version: number
  original_key: string
  data_key: string
  min_event_time: string | null
  max_event_time: string | null
  created_at: string
  seq: number
  /** Set on the sub-batch of bad rows split off a batch. */
  parent_id: string | null
}

export interface BatchValidationTable {
  batch_id: string
  /** JSON: `Anomaly[]`. */
  anomalies: string
  /** JSON: the whole `ValidationReport`. */
  report: string
  validated_at: string
}

export interface QuarantineActionTable {
  id: string
  batch_id: string
  /** `quarantine`, `release` or `discard`. */
  action: string
  actor: string
  reason: string
  at: string
}

export interface BatchStatisticsTable {
  batch_id: string
  /** JSON: `ColumnStatistics[]`. */
  columns: string
  computed_at: string
}

export interface ModelVersionTable {
  pipeline: string
  version: number
  /** `registered`, or `rejected` when it failed its gate. */
  status: string
  task: string
  trainer: string
  manifest_key: string
  manifest_sha256: string
  weights_key: string
  weights_sha256: string
  size_bytes: number
  /** JSON: evaluation metrics. */
  metrics: string
  /** JSON: batches, config hash, parent version, trainer, timings. */
  lineage: string
  created_at: string
}

export interface ModelAliasTable {
  pipeline: string
  alias: string
  version: number
  updated_at: string
}

export interface AliasHistoryTable {
  id: string
  pipeline: string
  /** Order of the moves of a pipeline's aliases: 1, 2, 3… (times can tie or step back). */
  seq: number
  alias: string
  from_version: number | null
  to_version: number | null
  actor: string
  reason: string
  at: string
}

export interface JobTable {
  id: string
  /** Creation order: ties of `run_after` are claimed first-in, first-out. */
  seq: number
  kind: string
  /** JSON. */
  payload: string
  /** `queued`, `running`, `succeeded`, `failed` or `cancelled`. */
  state: string
  idempotency_key: string | null
  /** Claims so far, expired leases included. */
  attempts: number
  max_attempts: number
  /** Fencing token: incremented on every claim; only the holder of the current token may commit. */
  token: number
  run_after: string
  lease_owner: string | null
  lease_expires_at: string | null
  /** Set when cancellation was requested (a running job stops at its holder's next heartbeat). */
  cancel_reason: string | null
  /** JSON. */
  result: string | null
  /** JSON: `{ message, code? }` of the last failure. */
  error: string | null
  created_at: string
  updated_at: string
  finished_at: string | null
}

export interface RunTable {
  /** `r_` and 12 hex digits. */
  id: string
  /** Creation order. */
  seq: number
  pipeline: string
  /** `queued`, `running`, `succeeded`, `failed` or `cancelled`. */
  state: string
  /** `manual`, `schedule`, `storage` or `data`. */
  trigger: string
  actor: string
  reason: string | null
  /** JSON: what the trigger saw (a file, a row count, a schedule time). */
  trigger_details: string | null
  /** The queue job that executes the run. */
  job_id: string
  idempotency_key: string | null
  /** Fencing token of the attempt that last started the run (0 before the first). */
  attempt: number
  cancel_reason: string | null
  /** JSON: `{ code, message, hint?, step? }` when the run failed. */
  error: string | null
  /** JSON: model version, gate verdict, deployment. */
  outcome: string | null
  /** JSON: the trained model's lineage. */
  lineage: string | null
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
}

export interface RunStepTable {
  run_id: string
  /** `resolve-data`, `train`, `evaluate`, `register` or `deploy`. */
  name: string
  position: number
  /** `pending`, `running`, `succeeded`, `failed`, `skipped` or `cancelled`. */
  status: string
  /** The run attempt that last wrote the step. */
  attempt: number
  started_at: string | null
  finished_at: string | null
  /** JSON: the step's metrics and details. */
  details: string
  /** JSON: `{ code, message, hint? }`. */
  error: string | null
}

export interface RunEventTable {
  run_id: string
  /** 1, 2, 3… per run. */
  seq: number
  attempt: number
  /** `state`, `step`, `phase`, `progress` or `log`. */
  type: string
  at: string
  /** JSON: the event without seq, attempt, type and at. */
  data: string
}

export interface PredictionTable {
  /** The id the predict answer gave the client (a UUID). */
  id: string
  pipeline: string
  version: number
  served_at: string
  /** Null only when the model answered a non-finite number. */
  prediction: number | null
  /** JSON: the raw instance, with long strings cut so it fits the log's cap; null when even that does not fit. */
  instance: string | null
  /** Size of the instance's full JSON: larger than `instance` when it was cut. */
  instance_bytes: number
  /** The request key (sticky canary routing), when the client sent one. */
  request_key: string | null
  /** Joined by feedback: 0/1 for binary pipelines, a number for regression. */
  label: number | null
  labelled_at: string | null
}

export interface ServingCountTable {
  pipeline: string
  version: number
  /** UTC minute, `YYYY-MM-DDTHH:MM`. */
  minute: string
  requests: number
  errors: number
}

export interface CanaryTable {
  id: string
  pipeline: string
  version: number
  /** `production` when the canary started. */
  baseline_version: number
  percent: number
  /** `active`, `promoted`, `rolled-back` or `inconclusive`. */
  state: string
  /** 1 when an operator started it on a version that failed its gate. */
  forced: number
  actor: string
  reason: string
  started_at: string
  bake_ms: number
  bake_until: string
  /** Times the bake was extended for lack of feedback (at most once). */
  extensions: number
  decided_at: string | null
  decided_by: string | null
  /** Why it ended, with both arms' numbers. */
  decision: string | null
  /** JSON: the comparison the decision was made on. */
  evidence: string | null
}

export interface Database {
  batch_validation: BatchValidationTable
  quarantine_actions: QuarantineActionTable
  model_versions: ModelVersionTable
  model_aliases: ModelAliasTable
  alias_history: AliasHistoryTable
  datasets: DatasetTable
  schema_versions: SchemaVersionTable
  batches: BatchTable
  batch_statistics: BatchStatisticsTable
  jobs: JobTable
  runs: RunTable
  run_steps: RunStepTable
  run_events: RunEventTable
  predictions: PredictionTable
  serving_counts: ServingCountTable
  canaries: CanaryTable
  schedule_cursors: ScheduleCursorTable
  event_log_topics: EventLogTopicTable
  event_log_events: EventLogEventTable
  event_log_consumers: EventLogConsumerTable
  monitor_windows: MonitorWindowTable
  monitor_rules: MonitorRuleTable
  monitor_events: MonitorEventTable
  stream_state: StreamStateTable
  stream_events: StreamEventTable
  stream_windows: StreamWindowTable
  stream_versions: StreamVersionTable
}

/** Per pipeline schedule (cron and time zone): the latest scheduled time handled, or when it was first seen. */
export interface ScheduleCursorTable {
  pipeline: string
  schedule: string
  cursor_at: string
  updated_at: string
}

/** A topic of the embedded event log: its offset counter and how far it was trimmed. */
export interface EventLogTopicTable {
  topic: string
  /** Offset of the latest event appended (0 before the first). */
  last_offset: number
  /** Every event at or below this offset was trimmed (retention). */
  trimmed_offset: number
  created_at: string
}

export interface EventLogEventTable {
  topic: string
  /** 1, 2, 3… per topic, in append order. */
  event_offset: number
  /** The producer's id, unique per topic (dedup of retried appends). */
  message_id: string | null
  event_key: string | null
  /** JSON. */
  payload: string
  appended_at: string
}

/** A durable named consumer of a topic: everything at or below `committed_offset` is done. */
export interface EventLogConsumerTable {
  topic: string
  name: string
  committed_offset: number
  created_at: string
  updated_at: string
}

/** Serving drift and online quality of a pipeline in one monitoring window. */
export interface MonitorWindowTable {
  pipeline: string
  window_start: string
  window_end: string
  /** The production version whose served instances were compared; null when there was none. */
  version: number | null
  /** Predictions of that version read in the window. */
  rows: number
  /** 1 when only the latest predictions of the window were read. */
  sampled: number
  drift: number | null
  prediction_drift: number | null
  /** JSON: feature -> `FeatureDrift`. */
  features: string
  /** JSON: `VersionOnlineMetrics[]`. */
  online: string
  /** Why drift could not be computed (no production model, no training baseline). */
  note: string | null
  computed_at: string
}

/** The state of one monitor rule of a pipeline. */
export interface MonitorRuleTable {
  pipeline: string
  rule: string
  /** `ok`, `pending` or `firing`. */
  state: string
  /** When its condition became true (pending and firing). */
  since: string | null
  /** JSON: the variables at the last change. */
  values: string
  changed_at: string
}

/** A transition of a monitor rule. */
export interface MonitorEventTable {
  id: string
  pipeline: string
  rule: string
  /** `firing` or `resolved`. */
  transition: string
  condition: string
  /** JSON: the variables that caused it. */
  values: string
  /** JSON: what each action did. */
  actions: string
  at: string
}

/** A streamed dataset's event-time progress (epoch ms). */
export interface StreamStateTable {
  dataset: string
  topic: string
  max_event_ms: number | null
  watermark_ms: number | null
  updated_at: string
}

/** A consumed event of a streamed dataset not yet done with; `kind` is `on-time`, `late` or `too-late`. */
export interface StreamEventTable {
  dataset: string
  event_offset: number
  window_start: number
  kind: string
  payload: string
}

/** One event-time window of a streamed dataset. */
export interface StreamWindowTable {
  dataset: string
  window_start: number
  on_time: number
  late: number
  too_late: number
  closed: number
  versions: number
  through_offset: number
  updated_at: string
}

/** One version (the first batch, then corrections) of a window; `state` is `pending`, `sealed` or `failed`. */
export interface StreamVersionTable {
  dataset: string
  window_start: number
  version: number
  from_offset: number
  through_offset: number
  batch_id: string
  state: string
  rows: number | null
  batch_state: string | null
  error: string | null
  created_at: string
  sealed_at: string | null
}

export type MetadataDb = Kysely<Database>
