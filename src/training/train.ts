import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { didYouMean } from '../core/names.js'
import { checkGate, type GateVerdict } from '../evaluation/gate.js'
import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { PipelineSpec } from '../config/schema.js'
import type { ModelVersion, NewModel } from '../registry/registry.js'
import { trainInChild, type ChildTrainingResult, type RunnerOptions } from './runner.js'

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

/** What the registry records for a trained candidate: `rejected` when it failed its gate. */
export function candidateModel(pipeline: string, result: ChildTrainingResult, gate: GateVerdict): NewModel {
  return {
    pipeline,
    task: result.manifest.task,
    trainer: result.manifest.trainer.type,
    manifest: result.manifest as unknown as Record<string, unknown>,
    weights: result.weights,
    metrics: result.metrics,
    lineage: { ...result.lineage, gate },
    status: gate.passed ? 'registered' : 'rejected',
  }
}

/** Whether a candidate with this verdict goes to `production`: it passed its gate and `deploy.auto` is not false. */
export function shouldDeploy(spec: PipelineSpec, gate: GateVerdict): boolean {
  return gate.passed && spec.deploy?.auto !== false
}

/** The reason recorded with the `production` move of a candidate that passed its gate. */
export function deployReason(gate: GateVerdict): string {
  return `trained and passed its gate${gate.metric === null ? ' (none configured)' : ` (${gate.metric} ${gate.value?.toFixed(4) ?? '?'})`}`
}

/**
 * The static architecture in one call, without the run queue: train in a child process, evaluate on the holdout,
 * register the version (as `rejected` when it fails its gate) and, when the gate passes and `deploy.auto` is not
 * false, point `production` at it by compare-and-swap. Runs (`src/orchestration`) do the same in steps.
 */
export async function trainAndRegister(platform: Platform, pipeline: string, options: RunnerOptions & { actor?: string } = {}): Promise<TrainOutcome> {
  const spec = pipelineSpecOf(platform, pipeline)
  const previousProduction = await platform.registry.alias(pipeline, 'production')
  const result = await trainInChild(platform, pipeline, options)
  const gate = checkGate(spec, result.metrics)
  const model = await platform.registry.register(candidateModel(pipeline, result, gate))
  let deployed = false
  if (shouldDeploy(spec, gate)) {
    await platform.registry.moveAlias({
      pipeline,
      alias: 'production',
      version: model.version,
      expected: previousProduction ?? null,
      actor: options.actor ?? 'freshet train',
      reason: deployReason(gate),
    })
    deployed = true
  }
  return { model, gate, evaluation: result.evaluation, previousProduction, deployed }
}
