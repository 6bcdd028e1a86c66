import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { didYouMean } from '../core/names.js'
import { checkGate, type GateVerdict } from '../evaluation/gate.js'
import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { ModelVersion } from '../registry/registry.js'
import { trainInChild, type RunnerOptions } from './runner.js'

export interface TrainOutcome {
  model: ModelVersion
  gate: GateVerdict
  evaluation: BinaryMetrics | RegressionMetrics
  /** The production version before this run, if any. */
  previousProduction: number | undefined
  /** True when this run moved `production` to the new version. */
  deployed: boolean
}

export function pipelineSpecOf(platform: Platform, name: string) {
  const pipelines = platform.config.config.pipelines ?? {}
  const spec = pipelines[name]
  if (spec === undefined) {
    const guess = didYouMean(name, Object.keys(pipelines))
    throw new FreshetError('PIPELINE_NOT_FOUND', `pipeline ${JSON.stringify(name)} does not exist${guess === undefined ? '' : `; did you mean ${JSON.stringify(guess)}?`}`, {
      hint: Object.keys(pipelines).length === 0 ? 'declare it under `pipelines` in freshet.config.ts' : `the pipelines are: ${Object.keys(pipelines).join(', ')}`,
    })
  }
  return spec
}

/**
 * The static architecture in one call: train in a child process, evaluate on the holdout, register the version
 * (as `rejected` when it fails its gate) and, when the gate passes and `deploy.auto` is not false, point
 * `production` at it by compare-and-swap.
 */
export async function trainAndRegister(platform: Platform, pipeline: string, options: RunnerOptions & { actor?: string } = {}): Promise<TrainOutcome> {
  const spec = pipelineSpecOf(platform, pipeline)
  const previousProduction = await platform.registry.alias(pipeline, 'production')
  const result = await trainInChild(platform, pipeline, options)
  const gate = checkGate(spec, result.metrics)
  const model = await platform.registry.register({
    pipeline,
    task: result.manifest.task,
    trainer: result.manifest.trainer.type,
    manifest: result.manifest as unknown as Record<string, unknown>,
    weights: result.weights,
    metrics: result.metrics,
    lineage: { ...result.lineage, gate },
    status: gate.passed ? 'registered' : 'rejected',
  })
  let deployed = false
  if (gate.passed && spec.deploy?.auto !== false) {
    await platform.registry.moveAlias({
      pipeline,
      alias: 'production',
      version: model.version,
      expected: previousProduction ?? null,
      actor: options.actor ?? 'freshet train',
      reason: `trained and passed its gate${gate.metric === null ? ' (none configured)' : ` (${gate.metric} ${gate.value?.toFixed(4) ?? '?'})`}`,
    })
    deployed = true
  }
  return { model, gate, evaluation: result.evaluation, previousProduction, deployed }
}
