import type { Platform } from '../app/platform.js'
import type { FeatureSpec, PipelineSpec } from '../config/schema.js'
import type { ProductionEvaluation } from '../evaluation/gate.js'
import { binaryMetrics, regressionMetrics } from '../evaluation/metrics.js'
import { transform, type ColumnarBatch, type FittedTransform } from '../features/transform.js'
import { headline, manifestFormat, resolveTrainer, type ModelManifest } from './artifact.js'
import type { ModelWeights, Trainer } from './trainer.js'
import { deserializeWeights } from './weights.js'

/** The production model of a pipeline, loaded in the trainer's process to be compared with and warm-started from. */
export interface ProductionModel {
  readonly version: number
  readonly manifest: ModelManifest
  readonly weights: ModelWeights
  readonly trainer: Trainer
  readonly lineage: Record<string, unknown>
}

/** Why a production model cannot serve as a baseline or a parent. */
export interface UnusableProduction {
  readonly version: number
  readonly problem: string
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Loads version `version` through the registry (sha256-verified) and checks that it answers the same question as
 * the pipeline now: same task and label. Never throws: a model that cannot be used says why.
 */
export async function loadProduction(platform: Platform, pipeline: string, spec: PipelineSpec, label: string, version: number): Promise<ProductionModel | UnusableProduction> {
  try {
    const { model, manifest, weights } = await platform.registry.load(pipeline, version)
    if (manifest.format !== manifestFormat) return { version, problem: `its manifest format is ${JSON.stringify(manifest.format)}, not ${manifestFormat}` }
    const typed = manifest as unknown as ModelManifest
    if (typed.task !== spec.task) return { version, problem: `it is a ${typed.task} model and the pipeline is now ${spec.task}` }
    if (typed.label !== label) return { version, problem: `it predicts label ${JSON.stringify(typed.label)} and the pipeline now ${JSON.stringify(label)}` }
    return { version, manifest: typed, weights: deserializeWeights(weights), trainer: await resolveTrainer(typed.trainer, platform.config.root), lineage: model.lineage }
  } catch (error) {
    return { version, problem: `it could not be loaded: ${messageOf(error)}` }
  }
}

/** The columns a fitted transform reads, as feature specs (for reading them from the dataset with the right type). */
export function featuresRead(fitted: FittedTransform): Record<string, FeatureSpec> {
  const specs: Record<string, FeatureSpec> = {}
  for (const f of fitted.features) specs[f.name] = f.type === 'cross' ? { type: 'cross', columns: [...f.columns] } : { type: f.type }
  return specs
}

/**
 * Scores the candidate's holdout rows with the production model, through the feature transform it was trained
 * with (the serving path), and computes the same headline metrics. Never throws.
 */
export function evaluateProduction(production: ProductionModel | UnusableProduction, rows: ColumnarBatch, labels: Float64Array): ProductionEvaluation {
  if ('problem' in production) return production
  try {
    const x = transform(production.manifest.transform, rows)
    const p = production.trainer.predict(production.weights, x)
    const evaluation = production.manifest.task === 'binary' ? binaryMetrics(labels, p) : regressionMetrics(labels, p)
    return { version: production.version, metrics: headline(evaluation) }
  } catch (error) {
    return { version: production.version, problem: `scoring the holdout failed: ${messageOf(error)}` }
  }
}
