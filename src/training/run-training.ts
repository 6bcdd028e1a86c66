import { createHash } from 'node:crypto'
import path from 'node:path'
import type { Platform } from '../app/platform.js'
import type { PipelineSpec, TrainerSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import { version as freshetVersion } from '../core/package-root.js'
import { datasetSpecOf } from '../data/datasets.js'
import { binaryMetrics, regressionMetrics, type BinaryMetrics, type RegressionMetrics } from '../evaluation/metrics.js'
import { randomSplit, timeHoldout, timeSplit, type Split } from '../evaluation/splits.js'
import { fitTransform, transform, type FittedTransform } from '../features/transform.js'
import { createTrainer, DEFAULT_HASH_BITS } from './built-ins.js'
import type { Trainer, TrainingProgress } from './trainer.js'
import { isTrainer } from './trainer.js'
import { loadTrainingRows, selectRows } from './training-data.js'
import { serializeWeights } from './weights.js'

export const manifestFormat = 'freshet-model/1'

/** What the model artifact's manifest holds: everything serving needs besides the weights. Data only. */
export interface ModelManifest {
  format: typeof manifestFormat
  pipeline: string
  task: 'binary' | 'regression'
  trainer: TrainerSpec
  label: string
  transform: FittedTransform
  freshetVersion: string
}

/** Headline numbers of a model on its holdout, as recorded in the registry. */
export type HeadlineMetrics = Record<string, number>

export interface TrainedModel {
  manifest: ModelManifest
  weights: Uint8Array
  metrics: HeadlineMetrics
  evaluation: BinaryMetrics | RegressionMetrics
  lineage: Record<string, unknown>
}

export type TrainingEvent =
  | { kind: 'phase'; phase: 'data' | 'features' | 'train' | 'evaluate'; message: string }
  | ({ kind: 'progress'; total: number } & TrainingProgress)

export function headline(evaluation: BinaryMetrics | RegressionMetrics): HeadlineMetrics {
  if ('auc' in evaluation) {
    return {
      auc: evaluation.auc,
      logloss: evaluation.logLoss,
      accuracy: evaluation.atHalf.accuracy,
      precision: evaluation.atHalf.precision,
      recall: evaluation.atHalf.recall,
      f1: evaluation.atHalf.f1,
      bestF1: evaluation.bestF1.f1,
      bestF1Threshold: evaluation.bestF1.threshold,
      meanPredicted: evaluation.calibration.meanPredicted,
      observedRate: evaluation.calibration.observedRate,
      count: evaluation.count,
    }
  }
  return { rmse: evaluation.rmse, mae: evaluation.mae, r2: evaluation.r2, count: evaluation.count }
}

/** Loads the trainer a pipeline names: a built-in, or a custom module's default export (a Trainer or a factory). */
export async function resolveTrainer(spec: TrainerSpec, root: string): Promise<Trainer> {
  if (spec.type !== 'custom') return createTrainer(spec)
  const file = path.resolve(root, spec.module)
  const { createJiti } = await import('jiti')
  const mod = await createJiti(import.meta.url, { moduleCache: false }).import<{ default?: unknown }>(file)
  const exported = mod.default ?? mod
  const trainer = typeof exported === 'function' ? (exported as (options: unknown) => unknown)(spec.options ?? {}) : exported
  if (!isTrainer(trainer)) {
    throw new FreshetError('CONFIG_INVALID', `${spec.module} does not export a trainer (an object with type, fit and predict, or a function returning one)`, { file })
  }
  return trainer
}

function splitRows(pipeline: PipelineSpec, eventTimes: Float64Array, rows: number): Split {
  const split = pipeline.split ?? { by: 'time', holdout: 0.2 }
  if (split.by === 'random') return randomSplit(rows, split.holdout, split.seed)
  if (eventTimes.some((t) => Number.isNaN(t))) {
    throw new FreshetError('CONFIG_INVALID', `pipeline split is by time, but the dataset ${pipeline.dataset} has no event time for every row`, {
      hint: "set the dataset's eventTime column, or use split: { by: 'random', holdout: 0.2 }",
    })
  }
  return timeSplit(eventTimes, timeHoldout(split.holdout))
}

const configHash = (pipeline: PipelineSpec): string => createHash('sha256').update(JSON.stringify(pipeline)).digest('hex')

/**
 * One training run of a pipeline, start to finish but without touching the registry: read the data, split it,
 * fit the feature transform on the training side, train, evaluate on the holdout. Runs in the trainer's child
 * process (see `runner.ts`).
 */
export async function trainPipeline(platform: Platform, pipelineName: string, options: { signal?: AbortSignal; onEvent?: (event: TrainingEvent) => void; batchIds?: readonly string[] } = {}): Promise<TrainedModel> {
  const pipeline = platform.config.config.pipelines?.[pipelineName]
  if (pipeline === undefined) throw new FreshetError('PIPELINE_NOT_FOUND', `pipeline ${JSON.stringify(pipelineName)} does not exist`)
  const dataset = datasetSpecOf(platform.config, pipeline.dataset)
  const emit = options.onEvent ?? (() => undefined)
  const timings: Record<string, number> = {}
  let clock = performance.now()
  const lap = (name: string) => {
    const now = performance.now()
    timings[name] = Math.round(now - clock)
    clock = now
  }

  emit({ kind: 'phase', phase: 'data', message: `reading dataset ${pipeline.dataset}` })
  const rows = await loadTrainingRows(platform, pipelineName, pipeline, dataset, options.batchIds)
  const split = splitRows(pipeline, rows.eventTimes, rows.labels.length)
  if (split.train.length === 0 || split.test.length === 0) {
    throw new FreshetError('NO_TRAINING_DATA', `the split leaves ${split.train.length} training and ${split.test.length} holdout rows: both need at least one`, {
      hint: 'ingest more data, or change split.holdout',
    })
  }
  if (pipeline.task === 'binary') {
    const bad = rows.labels.findIndex((y) => y !== 0 && y !== 1)
    if (bad >= 0) {
      throw new FreshetError('INPUT_MALFORMED', `label ${dataset.label ?? ''} must be 0/1 or true/false for a binary task; found ${rows.labels[bad]}`, {
        hint: "use task: 'regression' for real-valued labels",
      })
    }
  }
  lap('data')

  emit({ kind: 'phase', phase: 'features', message: `fitting features on ${split.train.length} rows` })
  const trainRows = selectRows(rows.batch, split.train)
  const testRows = selectRows(rows.batch, split.test)
  const hashBits = pipeline.trainer.type === 'custom' ? DEFAULT_HASH_BITS : (pipeline.trainer.hashBits ?? DEFAULT_HASH_BITS)
  const fitted = fitTransform(pipeline.features, trainRows, { hashBits })
  const xTrain = transform(fitted, trainRows)
  const xTest = transform(fitted, testRows)
  const pick = (indices: Uint32Array) => Float64Array.from(indices, (i) => rows.labels[i] as number)
  const yTrain = pick(split.train)
  const yTest = pick(split.test)
  lap('features')

  emit({ kind: 'phase', phase: 'train', message: `training ${pipeline.trainer.type} on ${yTrain.length} rows` })
  const trainer = await resolveTrainer(pipeline.trainer, platform.config.root)
  const weights = await trainer.fit(
    { x: xTrain, y: yTrain, task: pipeline.task },
    { ...(options.signal === undefined ? {} : { signal: options.signal }), onProgress: (p) => emit({ kind: 'progress', total: yTrain.length, ...p }) },
  )
  lap('train')

  emit({ kind: 'phase', phase: 'evaluate', message: `evaluating on ${yTest.length} holdout rows` })
  const predictions = trainer.predict(weights, xTest)
  const evaluation = pipeline.task === 'binary' ? binaryMetrics(yTest, predictions) : regressionMetrics(yTest, predictions)
  lap('evaluate')

  let holdoutFrom = Number.POSITIVE_INFINITY
  for (const i of split.test) holdoutFrom = Math.min(holdoutFrom, rows.eventTimes[i] as number)
  return {
    manifest: { format: manifestFormat, pipeline: pipelineName, task: pipeline.task, trainer: pipeline.trainer, label: dataset.label ?? '', transform: fitted, freshetVersion },
    weights: serializeWeights(weights),
    metrics: headline(evaluation),
    evaluation,
    lineage: {
      dataset: pipeline.dataset,
      batches: rows.batches,
      rows: { train: yTrain.length, holdout: yTest.length, unlabelled: rows.unlabelled },
      eventTimes: { min: rows.minEventTime, max: rows.maxEventTime, holdoutFrom: Number.isFinite(holdoutFrom) ? new Date(holdoutFrom).toISOString() : null },
      split: pipeline.split ?? { by: 'time', holdout: 0.2 },
      configHash: configHash(pipeline),
      trainer: pipeline.trainer,
      parentVersion: null,
      freshetVersion,
      timingsMs: timings,
    },
  }
}
