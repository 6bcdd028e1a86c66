import { createHash } from 'node:crypto'
import type { Platform } from '../app/platform.js'
import type { DatasetSpec, PipelineSpec, TrainerSpec } from '../config/schema.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { version as freshetVersion } from '../core/package-root.js'
import { identity } from '../core/random.js'
import { listBatches } from '../data/batches.js'
import { datasetSpecOf } from '../data/datasets.js'
import type { ProductionEvaluation } from '../evaluation/gate.js'
import { binaryMetrics, regressionMetrics, type BinaryMetrics, type RegressionMetrics } from '../evaluation/metrics.js'
import { randomSplit, timeHoldout, timeSplit, type Split } from '../evaluation/splits.js'
import { fitTransform, inputColumns, transform, type ColumnarBatch, type FittedTransform } from '../features/transform.js'
import { servingBaseline } from '../monitoring/baseline.js'
import { headline, manifestFormat, resolveTrainer, type HeadlineMetrics, type ModelManifest } from './artifact.js'
import { DEFAULT_HASH_BITS } from './built-ins.js'
import { evaluateProduction, featuresRead, loadProduction, type ProductionModel, type UnusableProduction } from './production-model.js'
import type { TrainingProgress } from './trainer.js'
import { loadTrainingRows, selectRows } from './training-data.js'
import { serializeWeights } from './weights.js'

export { headline, manifestFormat, resolveTrainer, type HeadlineMetrics, type ModelManifest } from './artifact.js'

/** How a run trains: from scratch over the window, or on from the production model's weights. */
export type TrainingStrategy = 'full' | 'warm-start' | 'online'

/** What the lineage says about the strategy: what was asked, what was done, and why they differ. */
export interface StrategyRecord {
  requested: TrainingStrategy
  used: TrainingStrategy
  /** Why a requested warm start fell back to full training. */
  fallback: string | null
}

export interface TrainedModel {
  manifest: ModelManifest
  weights: Uint8Array
  metrics: HeadlineMetrics
  evaluation: BinaryMetrics | RegressionMetrics
  lineage: Record<string, unknown>
  /** The production model the run pinned, evaluated on the candidate's holdout rows; null when there was none. */
  production: ProductionEvaluation | null
  /** Up to {@link sampleRows} holdout rows as serving instances (raw feature values), for the infra check. */
  samples: Record<string, unknown>[]
}

/** How many holdout rows a trained model carries as samples for the infra check. */
export const sampleRows = 20

export interface TrainPipelineOptions {
  signal?: AbortSignal
  onEvent?: (event: TrainingEvent) => void
  batchIds?: readonly string[]
  /** Overrides the pipeline's `training.strategy`. */
  strategy?: TrainingStrategy
  /** The production version the caller pinned: compared with on the same holdout and warm-started from. */
  production?: number | null
}

export type TrainingEvent =
  | { kind: 'phase'; phase: 'data' | 'features' | 'train' | 'evaluate'; message: string }
  | ({ kind: 'progress'; total: number } & TrainingProgress)

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

const hash = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex')

/** The parts of a trainer spec a warm start must keep: another optimizer, module or type cannot continue the state. */
function trainerIdentity(spec: TrainerSpec): string {
  if (spec.type === 'linear') return `linear (${spec.optimizer ?? 'ftrl'})`
  if (spec.type === 'custom') return `custom module ${spec.module}`
  return spec.type
}

const hashBitsOf = (spec: TrainerSpec): number => (spec.type === 'custom' ? DEFAULT_HASH_BITS : (spec.hashBits ?? DEFAULT_HASH_BITS))

/** The batch ids a model's weights have learned from, over its whole warm-start chain; undefined when unknown. */
function coveredBatches(lineage: Record<string, unknown>): Set<string> | undefined {
  if (Array.isArray(lineage.coveredBatches)) return new Set(lineage.coveredBatches.filter((id): id is string => typeof id === 'string'))
  if (Array.isArray(lineage.batches)) {
    return new Set(lineage.batches.map((b: unknown) => (typeof b === 'object' && b !== null ? (b as { id?: unknown }).id : undefined)).filter((id): id is string => typeof id === 'string'))
  }
  return undefined
}

/** Why `production` cannot be the parent of a warm start of `pipeline`, or null when it can. */
function warmStartProblem(pipeline: PipelineSpec, production: ProductionModel | UnusableProduction | null): string | null {
  if (production === null) return 'there is no production model to start from'
  if ('problem' in production) return `production v${production.version} cannot be used: ${production.problem}`
  const parent = production.manifest
  const v = `production v${production.version}`
  if (trainerIdentity(parent.trainer) !== trainerIdentity(pipeline.trainer)) {
    return `${v} was trained by ${trainerIdentity(parent.trainer)} and the pipeline now uses ${trainerIdentity(pipeline.trainer)}`
  }
  if (parent.transform.hashBits !== hashBitsOf(pipeline.trainer)) return `${v} hashes features into 2^${parent.transform.hashBits} slots and the pipeline now into 2^${hashBitsOf(pipeline.trainer)}`
  const recorded = production.lineage.featuresHash
  const changed =
    typeof recorded === 'string'
      ? recorded !== hash(pipeline.features)
      : JSON.stringify(parent.transform.features.map((f) => [f.name, f.type])) !== JSON.stringify(Object.entries(pipeline.features).map(([name, f]) => [name, f.type]))
  if (changed) return `the pipeline's features changed since ${v} was trained`
  if (coveredBatches(production.lineage) === undefined) return `${v}'s lineage does not list the batches it learned from`
  return null
}

/** A fit that refused its warm start (the trainer found the parent's weights unusable). */
class WarmStartRefused extends Error {}

/** A raw value as a JSON serving instance would carry it. */
function instanceValue(value: unknown): unknown {
  if (value === undefined || value === null) return null
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'bigint') return Number(value)
  if (value instanceof Date) return value.toISOString()
  // DuckDB values (decimals, timestamps) print as their SQL text.
  return typeof (value as { toString?: unknown }).toString === 'function' ? (value as { toString: () => string }).toString() : null
}

/** Up to `count` rows spread evenly over `rows`, as serving instances of the columns `fitted` reads. */
function sampleInstances(fitted: FittedTransform, rows: ColumnarBatch, count: number): Record<string, unknown>[] {
  const columns = inputColumns(fitted)
  const n = Math.min(count, rows.length)
  return Array.from({ length: n }, (_, k) => {
    const r = Math.floor((k * rows.length) / n)
    return Object.fromEntries(columns.map((c) => [c, instanceValue(rows.columns[c]?.[r])]))
  })
}

interface Plan {
  batchIds: readonly string[] | undefined
  parent: ProductionModel | undefined
  strategy: StrategyRecord
}

/**
 * One training run of a pipeline, start to finish but without touching the registry: read the data, split it,
 * fit the feature transform on the training side (or take the parent's for a warm start), train, evaluate on the
 * holdout, and evaluate the pinned production model on the same holdout rows. Runs in the trainer's child
 * process (see `runner.ts`).
 * With the `online` strategy (linear trainer), there is no holdout: the model continues from production's state over
 * the new rows in event-time order, one pass, and each row is scored before it is learned (progressive validation);
 * production is scored on the same rows with its frozen weights.
 * @throws FreshetError `NO_TRAINING_DATA` when there is nothing (new) to train on, `CONFIG_INVALID` for `online`
 * with a trainer other than `linear`.
 */
export async function trainPipeline(platform: Platform, pipelineName: string, options: TrainPipelineOptions = {}): Promise<TrainedModel> {
  const pipeline = platform.config.config.pipelines?.[pipelineName]
  if (pipeline === undefined) throw new FreshetError('PIPELINE_NOT_FOUND', `pipeline ${JSON.stringify(pipelineName)} does not exist`)
  const dataset = datasetSpecOf(platform.config, pipeline.dataset)
  const requested = options.strategy ?? pipeline.training?.strategy ?? 'full'
  if (requested === 'online' && pipeline.trainer.type !== 'linear') {
    throw new FreshetError('CONFIG_INVALID', `pipeline ${pipelineName}: the online strategy needs the linear trainer, not ${pipeline.trainer.type}`, {
      hint: "use strategy 'full' or 'warm-start' with this trainer",
    })
  }
  const production =
    options.production === undefined || options.production === null
      ? null
      : await loadProduction(platform, pipelineName, pipeline, dataset.label ?? '', options.production)
  // Online without a usable production model starts from zero, still online; warm start falls back to full.
  const fromScratch = requested === 'online' ? 'online' : 'full'
  const full = (fallback: string | null): Plan => ({ batchIds: options.batchIds, parent: undefined, strategy: { requested, used: fromScratch, fallback } })
  let plan = full(null)
  if (requested === 'warm-start' || requested === 'online') {
    const problem = warmStartProblem(pipeline, production)
    if (problem !== null) {
      plan = full(problem)
    } else {
      const parent = production as ProductionModel
      const covered = coveredBatches(parent.lineage) as Set<string>
      const pinned = options.batchIds ?? (await listBatches(platform.db, pipeline.dataset)).filter((b) => b.state === 'accepted' || b.state === 'released').map((b) => b.id)
      const fresh = pinned.filter((id) => !covered.has(id))
      if (fresh.length === 0) {
        throw new FreshetError('NO_TRAINING_DATA', `dataset ${pipeline.dataset} has no batches that production v${parent.version} has not learned from: ${requested === 'online' ? 'online training' : 'a warm start'} has nothing new to train on`, {
          hint: `ingest new data, or retrain from scratch: freshet train ${pipelineName} --strategy full`,
        })
      }
      plan = { batchIds: fresh, parent, strategy: { requested, used: requested, fallback: null } }
    }
  }
  try {
    return await trainWith(platform, pipelineName, pipeline, dataset, production, plan, options)
  } catch (error) {
    if (!(error instanceof WarmStartRefused)) throw error
    return trainWith(platform, pipelineName, pipeline, dataset, production, full(error.message), options)
  }
}

async function trainWith(
  platform: Platform,
  pipelineName: string,
  pipeline: PipelineSpec,
  dataset: DatasetSpec,
  production: ProductionModel | UnusableProduction | null,
  plan: Plan,
  options: TrainPipelineOptions,
): Promise<TrainedModel> {
  const emit = options.onEvent ?? (() => undefined)
  const timings: Record<string, number> = {}
  let clock = performance.now()
  const lap = (name: string) => {
    const now = performance.now()
    timings[name] = Math.round(now - clock)
    clock = now
  }
  const parent = plan.parent

  emit({ kind: 'phase', phase: 'data', message: `reading dataset ${pipeline.dataset}` })
  if (parent !== undefined) {
    emit({ kind: 'phase', phase: 'data', message: `warm start from production v${parent.version}: training on the ${plan.batchIds?.length ?? 0} batches it has not learned from` })
  } else if (plan.strategy.fallback !== null) {
    emit({ kind: 'phase', phase: 'data', message: `${plan.strategy.requested === 'online' ? 'continuing from production' : 'warm start'} is not possible (${plan.strategy.fallback}): training from scratch (${plan.strategy.used})` })
  }
  const online = plan.strategy.used === 'online'
  const baselineColumns = production !== null && !('problem' in production) ? featuresRead(production.manifest.transform) : undefined
  const rows = await loadTrainingRows(platform, pipelineName, pipeline, dataset, plan.batchIds, baselineColumns === undefined ? {} : { alsoRead: baselineColumns })
  // Online: every row is trained on, in event-time order (the order the rows are read in), and every row is also
  // the evaluation, scored before it is learned.
  const split = online ? { train: identity(rows.labels.length), test: identity(rows.labels.length) } : splitRows(pipeline, rows.eventTimes, rows.labels.length)
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

  const trainRows = selectRows(rows.batch, split.train)
  const testRows = selectRows(rows.batch, split.test)
  // A warm start keeps its parent's fitted transform: the weights mean the slots and scales that transform makes.
  emit({ kind: 'phase', phase: 'features', message: parent === undefined ? `fitting features on ${split.train.length} rows` : `transforming ${split.train.length} rows with production v${parent.version}'s features` })
  const fitted = parent?.manifest.transform ?? fitTransform(pipeline.features, trainRows, { hashBits: hashBitsOf(pipeline.trainer) })
  const xTrain = transform(fitted, trainRows)
  const xTest = online ? xTrain : transform(fitted, testRows)
  const pick = (indices: Uint32Array) => Float64Array.from(indices, (i) => rows.labels[i] as number)
  const yTrain = pick(split.train)
  const yTest = pick(split.test)
  lap('features')

  emit({ kind: 'phase', phase: 'train', message: `training ${pipeline.trainer.type} on ${yTrain.length} rows${parent === undefined ? '' : ` from production v${parent.version}'s weights`}` })
  const trainer = await resolveTrainer(pipeline.trainer, platform.config.root)
  const progressive = online ? new Float64Array(yTrain.length) : undefined
  let weights
  try {
    weights = await trainer.fit(
      { x: xTrain, y: yTrain, task: pipeline.task },
      {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(parent === undefined ? {} : { warmStart: parent.weights }),
        ...(progressive === undefined ? { holdout: { x: xTest, y: yTest, task: pipeline.task } } : { progressive }),
        onProgress: (p) => emit({ kind: 'progress', total: yTrain.length, ...p }),
      },
    )
  } catch (error) {
    if (parent !== undefined && isFreshetError(error, 'USAGE')) throw new WarmStartRefused(`the trainer refused production v${parent.version}'s weights: ${error.message}`)
    throw error
  }
  lap('train')

  emit({ kind: 'phase', phase: 'evaluate', message: online ? `progressive validation on the ${yTest.length} rows, each scored before it was learned` : `evaluating on ${yTest.length} holdout rows` })
  const predictions = progressive ?? trainer.predict(weights, xTest)
  const evaluation = pipeline.task === 'binary' ? binaryMetrics(yTest, predictions) : regressionMetrics(yTest, predictions)
  const baseline = production === null ? null : evaluateProduction(production, testRows, yTest)
  lap('evaluate')

  let holdoutFrom = Number.POSITIVE_INFINITY
  for (const i of split.test) holdoutFrom = Math.min(holdoutFrom, rows.eventTimes[i] as number)
  const covered = new Set(parent === undefined ? [] : (coveredBatches(parent.lineage) ?? []))
  for (const b of rows.batches) covered.add(b.id)
  return {
    manifest: { format: manifestFormat, pipeline: pipelineName, task: pipeline.task, trainer: pipeline.trainer, label: dataset.label ?? '', transform: fitted, freshetVersion },
    weights: serializeWeights(weights),
    metrics: headline(evaluation),
    evaluation,
    production: baseline,
    samples: sampleInstances(fitted, testRows, sampleRows),
    lineage: {
      dataset: pipeline.dataset,
      batches: rows.batches,
      rows: { train: yTrain.length, holdout: online ? 0 : yTest.length, ...(online ? { progressive: yTest.length } : {}), unlabelled: rows.unlabelled },
      eventTimes: { min: rows.minEventTime, max: rows.maxEventTime, holdoutFrom: Number.isFinite(holdoutFrom) ? new Date(holdoutFrom).toISOString() : null },
      split: online ? { by: 'progressive' } : (pipeline.split ?? { by: 'time', holdout: 0.2 }),
      configHash: hash(pipeline),
      featuresHash: hash(pipeline.features),
      trainer: pipeline.trainer,
      strategy: plan.strategy,
      parentVersion: parent?.version ?? null,
      coveredBatches: [...covered],
      freshetVersion,
      timingsMs: timings,
      // What serving drift is measured against (src/monitoring): training distributions and holdout predictions.
      monitoring: servingBaseline(fitted, trainRows, predictions),
    },
  }
}
