import * as z from 'zod'
import { namePattern } from '../core/names.js'
import { parseCondition } from '../monitoring/expression.js'
import { columnName, duration, fraction, int, nonNegative, positive, size, strict } from './zod-helpers.js'

/** Column types a dataset schema can declare. */
export const columnTypes = ['string', 'integer', 'number', 'boolean', 'timestamp'] as const
export type ColumnType = (typeof columnTypes)[number]

const columnType = z.enum(columnTypes, { error: `expected one of ${columnTypes.join(', ')}` })

export const textFeature = strict({
  type: z.literal('text'),
  lowercase: z.boolean().optional(),
  bigrams: z.boolean().optional(),
  maxTokens: int(1, 1_000_000).optional(),
})
export const categoricalFeature = strict({
  type: z.literal('categorical'),
  /** Values seen fewer times than this in training share one "rare" slot. */
  minCount: int(1, 1_000_000).optional(),
})
export const numericFeature = strict({
  type: z.literal('numeric'),
  transform: z.enum(['standardize', 'log1p', 'none'], { error: 'expected standardize, log1p or none' }).optional(),
  /** Bucket boundaries, or a number of quantile buckets fitted on training data. */
  buckets: z.union([int(2, 1000), z.array(z.number()).min(1)], { error: 'expected a bucket count from 2 to 1000 or a list of boundaries' }).optional(),
  missing: z.enum(['indicator', 'zero'], { error: 'expected indicator or zero' }).optional(),
})
export const crossFeature = strict({
  type: z.literal('cross'),
  columns: z.array(columnName).min(2, { error: 'expected at least two columns to cross' }),
})
export const featureSpec = z.discriminatedUnion('type', [textFeature, categoricalFeature, numericFeature, crossFeature], {
  error: 'expected a feature spec: text(), categorical(), numeric() or cross([...])',
})
export type FeatureSpec = z.infer<typeof featureSpec>

const linearTrainer = strict({
  type: z.literal('linear'),
  optimizer: z.enum(['ftrl', 'adagrad'], { error: 'expected ftrl or adagrad' }).optional(),
  hashBits: int(10, 30).optional(),
  epochs: int(1, 1000).optional(),
  alpha: positive().optional(),
  beta: nonNegative().optional(),
  l1: nonNegative().optional(),
  l2: nonNegative().optional(),
  learningRate: positive().optional(),
  seed: int(0, 2 ** 31 - 1).optional(),
})
const naiveBayesTrainer = strict({
  type: z.literal('naive-bayes'),
  hashBits: int(10, 30).optional(),
  smoothing: positive().optional(),
})
const customTrainer = strict({
  type: z.literal('custom'),
  module: z.string().min(1),
  options: z.record(z.string(), z.unknown()).optional(),
})
// The command runs as given (no shell); it comes only from the config file, never from the API.
const commandTrainer = strict({
  type: z.literal('command'),
  argv: z
    .array(z.string({ error: 'expected every argv entry to be a string' }).min(1, { error: 'expected non-empty argv entries' }), { error: 'expected argv: an array of strings, the program first' })
    .min(1, { error: 'expected argv to name a program: a non-empty array of strings' }),
  format: z.enum(['xgboost-json'], { error: 'expected a model format: xgboost-json' }).optional(),
  modelFile: z.string().min(1).regex(/^(?!\/)(?!.*(^|\/)\.\.(\/|$))[^\0\\]+$/, { error: 'expected a relative path inside the output directory' }).optional(),
  timeout: duration.optional(),
  hashBits: int(10, 30).optional(),
})
export const trainerSpec = z.discriminatedUnion('type', [linearTrainer, naiveBayesTrainer, customTrainer, commandTrainer], {
  error: 'expected a trainer type: linear, naive-bayes, custom or command',
})
export type TrainerSpec = z.infer<typeof trainerSpec>

const trigger = z.discriminatedUnion(
  'on',
  [
    strict({ on: z.literal('manual') }),
    strict({ on: z.literal('storage') }),
    strict({
      on: z.literal('data'),
      minNewRows: int(1, 1e12).optional(),
      interval: duration.optional(),
      cooldown: duration.optional(),
      maxConcurrent: int(1, 100).optional(),
    }),
    strict({
      on: z.literal('schedule'),
      cron: z.string().min(1),
      timezone: z.string().optional(),
      catchUp: z.boolean().optional(),
    }),
  ],
  { error: 'expected a trigger: { on: manual | storage | data | schedule }' },
)

const metricName = z.string().min(1)

/** A monitor rule's condition: parsed (never evaluated as code) when the config loads; errors name the position. */
const monitorCondition = z.string({ error: "expected a condition like 'drift > 0.2'" }).superRefine((text, ctx) => {
  try {
    parseCondition(text)
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message })
  }
})
const monitorRule = strict({
  /** Default: the condition's text. */
  name: z.string().min(1).max(200).optional(),
  when: monitorCondition,
  /** How long the condition must hold before the rule fires (default 0s). */
  for: duration.optional(),
  then: z.array(z.enum(['alert', 'retrain', 'rollback'], { error: 'expected alert, retrain or rollback' })).min(1, { error: 'expected at least one action' }),
})

/** A topic of the event log: a name, or a derived one such as `impressions.scored`. */
const logTopic = z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/, { error: "expected a topic name such as 'impressions' or 'impressions.scored'" })

export const pipelineSpec = strict({
  dataset: z.string({ error: 'expected the name of a dataset' }),
  task: z.enum(['binary', 'regression'], { error: 'expected binary or regression' }),
  features: z.record(columnName, featureSpec),
  trainer: trainerSpec,
  mode: z.enum(['static', 'dynamic'], { error: 'expected static or dynamic' }).optional(),
  training: strict({
    window: duration.optional(),
    /**
     * `full` (default): train from scratch over the window. `warm-start`: continue from the production model's
     * weights (and its fitted feature transform) on the batches it has not learned from yet; without a compatible
     * production model the run trains `full` and says why. `online` (linear trainer): continue from production's
     * optimizer state over the new rows in event-time order, one pass, each row scored before it is learned
     * (progressive validation, no holdout); every run registers the state as a snapshot version.
     */
    strategy: z.enum(['full', 'warm-start', 'online'], { error: 'expected full, warm-start or online' }).optional(),
  }).optional(),
  split: z
    .discriminatedUnion('by', [
      strict({ by: z.literal('time'), holdout: z.union([duration, fraction('a fraction from 0 to 1 or a duration')]) }),
      strict({ by: z.literal('random'), holdout: fraction(), seed: int(0, 2 ** 31 - 1).optional() }),
    ], { error: 'expected { by: time | random, holdout }' })
    .optional(),
  triggers: z.array(trigger).optional(),
  /**
   * The candidate is deployed only if it passes: `min` is an absolute threshold on its holdout `metric` (a maximum
   * for losses: logloss, rmse, mae). `maxRegression` is the largest worsening allowed against the production model
   * evaluated on the same holdout rows: a number is absolute in the metric's units (`0.005`), a string ending in
   * `%` is relative to production's value (`'1%'`).
   */
  gate: strict({
    metric: metricName,
    min: z.number().optional(),
    maxRegression: z
      .union([nonNegative(), z.string().regex(/^\d+(\.\d+)?%$/)], {
        error: "expected a number ≥ 0 (absolute) or a percentage like '1%' (relative)",
      })
      .optional(),
  }).optional(),
  deploy: strict({
    auto: z.boolean().optional(),
    /**
     * A new version first serves `percent` of the traffic for `bake`; it is promoted only when, at the end, each arm
     * has at least `minFeedback` labelled predictions (default 100) and it did not regress (see `rollbackOn`).
     */
    canary: strict({ percent: z.number().min(0).max(100), bake: duration, minFeedback: int(1, 1e9).optional() }).optional(),
    /**
     * A canary whose online `metric` (auc, logloss, accuracy; rmse, mae) is worse than production's by more than
     * `maxRegression` (absolute), or whose predict error rate is higher by more than `maxErrorRateIncrease`
     * (default 0.01), is rolled back automatically.
     */
    rollbackOn: strict({ metric: metricName, maxRegression: nonNegative(), maxErrorRateIncrease: fraction().optional() }).optional(),
    /** Labels are accepted up to `horizon` after their prediction was served (default 7d). */
    feedback: strict({ horizon: duration.optional() }).optional(),
    /**
     * Before `production` moves, the candidate's artifact is loaded in a fresh process and must answer sample
     * predictions on holdout rows (finite, one per row) within `timeout` (default 10s); else it is rejected.
     * `false` turns the check off.
     */
    infraCheck: z
      .union([z.literal(false), strict({ timeout: duration.optional() })], {
        error: 'expected false or { timeout }',
      })
      .optional(),
  }).optional(),
  /**
   * Serving drift and online quality are measured per `window` (default 1h) once it has `minRows` predictions
   * (default 100); staleness (time since the newest training data, since the last deploy) against its budgets.
   */
  monitoring: strict({
    window: duration.optional(),
    minRows: int(1, 1e9).optional(),
    staleness: strict({ data: duration.optional(), deploy: duration.optional() }).optional(),
  }).optional(),
  /**
   * Stream scoring: each event of `topic` is scored with the production model and `{eventId, prediction,
   * modelVersion, predictionId}` is published to `output` and the prediction log; an event the model cannot score
   * goes to `<output>.dead-letter` with the reason. `id` names the event field used as `eventId` (default:
   * `<topic>:<offset>`); `batch` is the most events scored per transaction (default 500).
   */
  score: strict({ topic: logTopic, output: logTopic, id: columnName.optional(), batch: int(1, 10_000).optional() }).optional(),
  /** Rules over drift, online metrics, error rate and staleness, with actions (see src/monitoring/expression.ts). */
  monitors: z
    .array(monitorRule)
    .refine((rules) => new Set(rules.map((r) => r.name ?? r.when)).size === rules.length, { error: 'two monitors have the same name: give each a distinct name' })
    .optional(),
  /** Where `alert` actions go besides the log: a webhook POSTed JSON signed with HMAC-SHA256 of the secret in `secretEnv`. */
  alerts: strict({
    webhook: strict({ url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }), secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected the name of an environment variable' }).optional() }).optional(),
  }).optional(),
})
export type PipelineSpec = z.infer<typeof pipelineSpec>

const severity = z.enum(['blocking', 'warning'], { error: 'expected blocking or warning' })

/** Thresholds of one column; each overrides the dataset-wide value. */
const columnValidation = strict({
  maxMissing: fraction().optional(),
  drift: fraction().optional(),
  newValues: fraction().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  severity: severity.optional(),
  /** Skip every statistical check of this column (schema checks still apply). */
  ignore: z.boolean().optional(),
})

export const validationSpec = strict({
  /**
   * Distance above which a column has drifted against the previous accepted data: `threshold` is the L∞ distance
   * for categories (default 0.1), `numericThreshold` the Jensen-Shannon divergence for numbers on reference-quantile bins (default 0.035).
   */
  drift: strict({ threshold: fraction().optional(), numericThreshold: fraction().optional(), severity: severity.optional() }).optional(),
  /** Distance above which a batch is skewed against the production model's training data. */
  skew: strict({ threshold: fraction().optional(), severity: severity.optional() }).optional(),
  /** Missing fraction above which a column is anomalous (absolute), and the rise over the reference that is. */
  maxMissing: fraction().optional(),
  maxMissingIncrease: fraction().optional(),
  /** Fraction of a categorical column's rows with values never seen before. */
  maxNewValues: fraction().optional(),
  /** Fraction of rows outside the reference range (widened by `rangeTolerance` of its span). */
  maxOutOfRange: fraction().optional(),
  rangeTolerance: nonNegative().optional(),
  /** Event times later than now by more than this are anomalous. */
  futureTolerance: duration.optional(),
  /** How many previous accepted batches make the reference. */
  referenceBatches: int(1, 1000).optional(),
  /** Fewer rows than this on either side makes statistical anomalies warnings only. */
  minRows: int(1, 1e9).optional(),
  onBadRows: z.enum(['quarantine-batch', 'split'], { error: 'expected quarantine-batch or split' }).optional(),
  /** With `split`, the largest fraction of bad rows that is split off; above it the whole batch is quarantined. */
  maxBadRowFraction: fraction().optional(),
  columns: z.record(columnName, columnValidation).optional(),
})
export type ValidationSpec = z.infer<typeof validationSpec>

export const datasetSpec = strict({
  /** Folder (relative to the workspace) where dropped files are ingested by the storage trigger. */
  landing: z.string().min(1).optional(),
  eventTime: columnName.optional(),
  label: columnName.optional(),
  id: columnName.optional(),
  /** Declared column types; when absent the schema is inferred from the first batch. */
  schema: z.record(columnName, columnType).optional(),
  csv: strict({
    delimiter: z.string().length(1, { error: 'expected a single character' }).optional(),
    header: z.boolean().optional(),
  }).optional(),
  maxFileSize: size.optional(),
  validation: validationSpec.optional(),
  /**
   * Delayed labels (src/streaming/labels.ts): examples come from the `examples` topic, and an example is positive
   * when an event of the `topic` with the same `key` arrives within `window` of it (by event time), negative once
   * the watermark (the lower of both topics' latest event time, minus `lateness`) has passed its window, pending
   * before. Only matured examples are written as batches, per `bucket` of event time (default 1d).
   */
  labels: strict({
    examples: z.string().min(1),
    topic: z.string().min(1),
    key: columnName,
    window: duration,
    bucket: duration.optional(),
    lateness: duration.optional(),
  }).optional(),
  /**
   * Stream source (src/streaming/stream-source.ts): events of `topic` are cut into event-time tumbling windows of
   * `window` (the dataset's `eventTime` names the event-time field); a window closes when the watermark (latest event
   * time seen minus `allowedLateness`, default 0) passes its end and becomes one batch of its events, or of per-key
   * `aggregate`s. Events for a closed window make a correction batch; those more than `dropAfter` (default 7d) past
   * their window's end go to the topic `<topic>.too-late`.
   */
  stream: strict({
    topic: logTopic,
    window: duration,
    allowedLateness: duration.optional(),
    dropAfter: duration.optional(),
    aggregate: strict({
      by: z.array(columnName).min(1, { error: 'expected at least one key field' }),
      fields: z.record(
        columnName,
        strict({
          op: z.enum(['count', 'sum', 'mean', 'min', 'max', 'last', 'distinct'], { error: 'expected count, sum, mean, min, max, last or distinct' }),
          of: columnName.optional(),
        }),
      ),
    }).optional(),
  }).optional(),
})
export type DatasetSpec = z.infer<typeof datasetSpec>

const nameKey = z.string().regex(namePattern, {
  error: "expected a name of lowercase letters, digits, '-' or '_', starting with a letter",
})

/** Where Freshet keeps its state when it outgrows the embedded default (SQLite and a folder under `state`). */
export const backendSpec = strict({
  /** `sqlite` (default: `<state>/freshet.db`) or a PostgreSQL URL `postgres://user@host:5432/db`. */
  metadata: z
    .string()
    .refine((v) => v === 'sqlite' || /^postgres(ql)?:\/\//.test(v), { error: "expected 'sqlite' or a URL postgres://user@host:5432/database" })
    .optional(),
  /** `local` (default: `<state>/blobs`) or an S3 location `s3://bucket/prefix` for datasets, quarantine and models. */
  blobs: z
    .string()
    .refine((v) => v === 'local' || v.startsWith('s3://'), { error: "expected 'local' or a location s3://bucket/prefix" })
    .optional(),
  /**
   * The event log (topics): `embedded` (default: tables in the metadata database) or a NATS JetStream server
   * `nats://host:4222` (consumer offsets still live in the metadata database).
   */
  log: z
    .string()
    .refine((v) => v === 'embedded' || /^nats:\/\/[^\s/]+$/.test(v), { error: "expected 'embedded' or a server nats://host:4222" })
    .optional(),
  /**
   * How to reach S3 (or an S3-compatible server); credentials come from the AWS SDK's usual chain
   * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles), never from this file.
   */
  s3: strict({
    endpoint: z.url({ error: 'expected a URL such as http://127.0.0.1:9000' }).optional(),
    region: z.string().min(1).optional(),
    forcePathStyle: z.boolean().optional(),
  }).optional(),
})
export type BackendSpec = z.infer<typeof backendSpec>

/** Field types an event of a topic can have. */
export const topicFieldTypes = ['string', 'number', 'boolean', 'timestamp'] as const
export type TopicFieldType = (typeof topicFieldTypes)[number]

/**
 * A topic of the event log. Published events are JSON objects with exactly the `schema`'s fields; an event that is
 * not goes to the topic `<name>.dead-letter` with the reasons (never dropped). `key` and `eventTime` name fields of
 * the schema (`eventTime` a timestamp). `maxEventBytes` bounds one event's JSON (default 64KB), `maxBacklog` the
 * events not yet consumed (default 100 000; a publish past it answers 429), `retention` how long consumed events
 * are kept (default: forever).
 */
export const topicSpec = strict({
  schema: z.record(
    columnName,
    z.enum(topicFieldTypes, { error: `expected one of ${topicFieldTypes.join(', ')}` }),
    { error: "expected the event's fields and types, like { user: 'string', at: 'timestamp' }" },
  ),
  key: columnName.optional(),
  eventTime: columnName.optional(),
  maxEventBytes: size.optional(),
  maxBacklog: int(1, 1e9).optional(),
  retention: duration.optional(),
}).superRefine((topic, ctx) => {
  const fields = Object.keys(topic.schema)
  if (fields.length === 0) ctx.addIssue({ code: 'custom', path: ['schema'], input: topic.schema, message: 'expected at least one field' })
  for (const which of ['key', 'eventTime'] as const) {
    const field = topic[which]
    if (field !== undefined && !fields.includes(field)) {
      ctx.addIssue({ code: 'custom', path: [which], input: field, message: `expected a field of the schema (${fields.join(', ')})` })
    }
  }
  if (topic.eventTime !== undefined && topic.schema[topic.eventTime] !== undefined && topic.schema[topic.eventTime] !== 'timestamp') {
    ctx.addIssue({ code: 'custom', path: ['eventTime'], input: topic.eventTime, message: "expected a field of type 'timestamp'" })
  }
})
export type TopicSpec = z.infer<typeof topicSpec>

export const configSchema = strict({
  /** State directory (database, blobs), relative to the config file. Default `.freshet`. */
  state: z.string().min(1).optional(),
  backend: backendSpec.optional(),
  server: strict({
    host: z.string().min(1).optional(),
    port: int(0, 65535).optional(),
    token: z.string().min(16, { error: 'expected a token of at least 16 characters' }).optional(),
  }).optional(),
  datasets: z.record(nameKey, datasetSpec).optional(),
  pipelines: z.record(nameKey, pipelineSpec).optional(),
  /** Topics of the event log, published to over HTTP, by `freshet publish` or `publish()`. */
  topics: z.record(nameKey, topicSpec).optional(),
})

/** The configuration as a user writes it. */
export type FreshetConfigInput = z.input<typeof configSchema>
/** The configuration after validation. */
export type FreshetConfig = z.infer<typeof configSchema>
