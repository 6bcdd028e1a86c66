import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import { didYouMean } from '../core/names.js'
import { checkGate, type GateVerdict, type ProductionEvaluation } from '../evaluation/gate.js'
import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { PipelineSpec } from '../config/schema.js'
import type { ModelVersion, NewModel, StoredArtifact } from '../registry/registry.js'
import { infraCheck, infraCheckTimeout, type InfraCheckResult } from './infra-check.js'
import { trainInChild, type ChildTrainingResult, type RunnerOptions } from './runner.js'

export interface TrainOutcome {
  model: ModelVersion
  gate: GateVerdict
  evaluation: BinaryMetrics | RegressionMetrics
  /** The production version before this run, if any. */
  previousProduction: number | undefined
  /** True when this run moved `production` to the new version. */
  deployed: boolean
  /** The production model on this run's holdout rows; null when there was none. */
  production: ProductionEvaluation | null
  /** Null when it did not run: the gate failed, or `deploy.infraCheck` is false. */
  infraCheck: InfraCheckResult | null
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
 * What the registry records for a trained candidate: `rejected` when it failed its gate or its infra check. The
 * lineage holds the verdict, the production model's numbers on the same holdout (`previous`) and the infra check.
 */
export function candidateModel(pipeline: string, result: ChildTrainingResult, gate: GateVerdict, infra: InfraCheckResult | null = null): NewModel {
  return {
    pipeline,
    task: result.manifest.task,
    trainer: result.manifest.trainer.type,
    manifest: result.manifest as unknown as Record<string, unknown>,
    weights: result.weights,
    metrics: result.metrics,
    lineage: { ...result.lineage, gate, previous: result.production, infraCheck: infra },
    status: gate.passed && infra?.passed !== false ? 'registered' : 'rejected',
  }
}

/**
 * The infra check of a stored candidate (see `infra-check.ts`), on its holdout samples; null when it is not run:
 * the gate failed (the version is rejected anyway) or the pipeline turned it off (`deploy.infraCheck: false`).
 */
export async function checkCandidateInfra(platform: Platform, spec: PipelineSpec, pipeline: string, result: ChildTrainingResult, gate: GateVerdict, artifact: StoredArtifact, signal?: AbortSignal): Promise<InfraCheckResult | null> {
  const timeoutMs = infraCheckTimeout(spec)
  if (timeoutMs === null || !gate.passed) return null
  return infraCheck(platform, { pipeline, task: result.manifest.task, artifact, instances: result.samples, timeoutMs, ...(signal === undefined ? {} : { signal }) })
}

/** Whether a candidate goes to `production`: it passed its gate and its infra check, and `deploy.auto` is not false. */
export function shouldDeploy(spec: PipelineSpec, gate: GateVerdict, infra: InfraCheckResult | null = null): boolean {
  return gate.passed && infra?.passed !== false && spec.deploy?.auto !== false
}

/** Why a candidate is not deployed, or null when it is. */
export function notDeployedReason(spec: PipelineSpec, version: number, gate: GateVerdict, infra: InfraCheckResult | null): string | null {
  if (!gate.passed) return `v${version} failed its gate: ${gate.reasons.join('; ')}`
  if (infra?.passed === false) return `v${version} failed its infra check: ${infra.reason ?? 'no reason recorded'}`
  if (spec.deploy?.auto === false) return 'deploy.auto is false'
  return null
}

/** The reason recorded with the `production` move of a candidate that passed its gate. */
export function deployReason(gate: GateVerdict, infra: InfraCheckResult | null = null): string {
  const baseline = gate.baseline
  const versus = baseline !== null && baseline !== undefined && baseline.value !== null ? ` vs production v${baseline.version}'s ${baseline.value.toFixed(4)} on the same holdout` : ''
  const infraNote = infra === null ? '' : `; answered ${infra.rows} sample predictions in a fresh process`
  return `trained and passed its gate${gate.metric === null ? ' (none configured)' : ` (${gate.metric} ${gate.value?.toFixed(4) ?? '?'}${versus})`}${infraNote}`
}

/**
 * The static architecture in one call, without the run queue: train in a child process, evaluate on the holdout
 * (the current production model too, on the same rows), check the gate, store the artifact, run the infra check
 * in a fresh process, register the version (as `rejected` when it failed the gate or the infra check) and, when
 * it passed both and `deploy.auto` is not false, point `production` at it by compare-and-swap. Runs
 * (`src/orchestration`) do the same in steps.
 */
export async function trainAndRegister(platform: Platform, pipeline: string, options: RunnerOptions & { actor?: string } = {}): Promise<TrainOutcome> {
  const spec = pipelineSpecOf(platform, pipeline)
  const previousProduction = await platform.registry.alias(pipeline, 'production')
  const result = await trainInChild(platform, pipeline, { ...options, production: previousProduction ?? null })
  const gate = checkGate(spec, result.metrics, result.production)
  const candidate = candidateModel(pipeline, result, gate)
  const artifact = await platform.registry.storeArtifact(candidate)
  const infra = await checkCandidateInfra(platform, spec, pipeline, result, gate, artifact, options.signal)
  const model = await platform.registry.record(candidateModel(pipeline, result, gate, infra), artifact)
  let deployed = false
  if (shouldDeploy(spec, gate, infra)) {
    await platform.registry.moveAlias({
      pipeline,
      alias: 'production',
      version: model.version,
      expected: previousProduction ?? null,
      actor: options.actor ?? 'freshet train',
      reason: deployReason(gate, infra),
    })
    deployed = true
  }
  return { model, gate, evaluation: result.evaluation, previousProduction, deployed, production: result.production, infraCheck: infra }
}
