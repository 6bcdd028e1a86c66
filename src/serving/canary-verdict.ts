import type { PipelineSpec } from '../config/schema.js'
import { formatDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import { lowerIsBetter, onlineMetricNames, type OnlineMetrics } from './online-metrics.js'

/** Labelled predictions each arm needs before its online metric is judged, unless `deploy.canary.minFeedback` says. */
export const defaultMinFeedback = 100
/** Largest rise of the predict error rate a canary may show, unless `deploy.rollbackOn.maxErrorRateIncrease` says. */
export const defaultMaxErrorRateIncrease = 0.01

/** How a pipeline's canaries are judged, from its `deploy` config. */
export interface CanaryPolicy {
  readonly metric: string
  readonly maxRegression: number
  readonly maxErrorRateIncrease: number
  readonly minFeedback: number
}

/**
 * The policy of a pipeline. Without `deploy.rollbackOn`, the metric is logloss (binary) or rmse (regression) and
 * no regression at all is allowed: a canary is promoted only when it is at least as good online as production.
 * @throws FreshetError `CONFIG_INVALID` when `rollbackOn.metric` is not an online metric of the pipeline's task.
 */
export function canaryPolicy(pipeline: string, spec: PipelineSpec): CanaryPolicy {
  const rollbackOn = spec.deploy?.rollbackOn
  const names: readonly string[] = onlineMetricNames[spec.task]
  const metric = rollbackOn?.metric ?? (spec.task === 'binary' ? 'logloss' : 'rmse')
  if (!names.includes(metric)) {
    throw new FreshetError('CONFIG_INVALID', `pipelines.${pipeline}.deploy.rollbackOn.metric: ${JSON.stringify(metric)} is not an online metric of a ${spec.task} pipeline`, {
      hint: `use one of ${names.join(', ')}`,
    })
  }
  return {
    metric,
    maxRegression: rollbackOn?.maxRegression ?? 0,
    maxErrorRateIncrease: rollbackOn?.maxErrorRateIncrease ?? defaultMaxErrorRateIncrease,
    minFeedback: spec.deploy?.canary?.minFeedback ?? defaultMinFeedback,
  }
}

/** Both arms of a canary over its bake so far. */
export interface CanaryEvidence {
  readonly since: string
  readonly until: string
  readonly metric: string
  readonly candidate: OnlineMetrics & { versions: number[] }
  readonly production: OnlineMetrics & { versions: number[] }
}

export type CanaryAction = 'continue' | 'rollback' | 'promote' | 'extend' | 'inconclusive'

export interface CanaryVerdict {
  readonly action: CanaryAction
  readonly reason: string
}

/** The facts of a canary the verdict depends on. */
export interface CanaryFacts {
  readonly version: number
  readonly bakeMs: number
  readonly bakeUntil: string
  readonly extensions: number
}

const number = (x: number | null): string => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(4))
const percent = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`)
const arm = (e: CanaryEvidence['production']): string => (e.versions.length === 0 ? 'production' : `production (v${e.versions.join(', v')})`)

/**
 * Decides what to do with an active canary at `now`:
 * - `rollback` as soon as either arm's evidence is enough and the canary is worse: its predict error rate is
 *   higher by more than `maxErrorRateIncrease` (both arms with at least `minFeedback` requests), or its online
 *   metric is worse than production's by more than `maxRegression` (both arms with at least `minFeedback` labels;
 *   lower is better for logloss, rmse and mae);
 * - `continue` while the bake lasts;
 * - at the end of the bake, `promote` when both arms have enough labels and the metric did not regress;
 *   otherwise `extend` the bake once by its length, and after that end `inconclusive` (production keeps serving).
 */
export function judgeCanary(canary: CanaryFacts, policy: CanaryPolicy, evidence: CanaryEvidence, now: Date): CanaryVerdict {
  const { candidate, production } = evidence
  const v = `v${canary.version}`
  const lower = lowerIsBetter.has(policy.metric)
  const errorRates = `predict error rate ${percent(candidate.errorRate)} on ${v} (${candidate.requests} requests) vs ${percent(production.errorRate)} on ${arm(production)} (${production.requests} requests)`
  if (candidate.requests >= policy.minFeedback && production.requests >= policy.minFeedback) {
    const rise = (candidate.errorRate ?? 0) - (production.errorRate ?? 0)
    if (rise > policy.maxErrorRateIncrease + 1e-12) {
      return { action: 'rollback', reason: `automatic rollback of canary ${v}: ${errorRates}, up ${percent(rise)}, more than rollbackOn.maxErrorRateIncrease ${percent(policy.maxErrorRateIncrease)}` }
    }
  }
  const c = candidate.metrics[policy.metric] ?? null
  const p = production.metrics[policy.metric] ?? null
  const metricText = `online ${policy.metric} ${number(c)} on ${v} (${candidate.labelled} labelled) vs ${number(p)} on ${arm(production)} (${production.labelled} labelled)`
  const enoughLabels = candidate.labelled >= policy.minFeedback && production.labelled >= policy.minFeedback
  const judgeable = enoughLabels && c !== null && p !== null
  if (judgeable) {
    const regression = lower ? c - p : p - c
    if (regression > policy.maxRegression + 1e-12) {
      return { action: 'rollback', reason: `automatic rollback of canary ${v}: ${metricText}: worse by ${number(regression)}, more than rollbackOn.maxRegression ${policy.maxRegression}` }
    }
  }
  if (now.getTime() < Date.parse(canary.bakeUntil)) return { action: 'continue', reason: `baking until ${canary.bakeUntil}: ${metricText}; ${errorRates}` }
  if (judgeable) {
    return { action: 'promote', reason: `canary ${v} promoted after its bake: ${metricText}, within rollbackOn.maxRegression ${policy.maxRegression}; ${errorRates}` }
  }
  const missing = enoughLabels
    ? `${policy.metric} cannot be computed on both arms (for auc each arm needs both classes)`
    : `at least ${policy.minFeedback} labelled predictions per arm are needed (deploy.canary.minFeedback)`
  if (canary.extensions === 0) {
    return { action: 'extend', reason: `bake of canary ${v} extended once by ${formatDuration(canary.bakeMs)}: ${metricText}; ${missing}` }
  }
  return { action: 'inconclusive', reason: `canary ${v} ended inconclusive after its extended bake: ${metricText}; ${missing}; production keeps serving (deploy ${v} by hand if you trust it)` }
}
