import type { PipelineSpec } from '../config/schema.js'
import type { HeadlineMetrics } from '../training/artifact.js'

/** Metrics where lower is better; for all others higher is better. */
const lowerIsBetter = new Set(['logloss', 'rmse', 'mae'])

export const isLowerBetter = (metric: string): boolean => lowerIsBetter.has(metric)

/**
 * The production model as the candidate's run saw it: its metrics on the candidate's own holdout rows, or why it
 * could not be evaluated there (another task, columns the dataset lost, an artifact that fails to load).
 */
export type ProductionEvaluation =
  | { readonly version: number; readonly metrics: HeadlineMetrics }
  | { readonly version: number; readonly problem: string }

/** The production side of a verdict: what the candidate was compared with. */
export interface GateBaseline {
  readonly version: number
  /** Production's value of the gate metric on the same holdout rows; null when it could not be evaluated. */
  readonly value: number | null
  /** Why production could not be evaluated; the change threshold was then not checked. */
  readonly problem: string | null
}

export interface GateVerdict {
  passed: boolean
  metric: string | null
  /** The candidate's value of `metric` on its holdout. */
  value: number | null
  min: number | null
  /** As configured: a number is absolute, a string like `'1%'` relative to production's value. */
  maxRegression?: number | string | null
  /** Null when there was no production model. */
  baseline?: GateBaseline | null
  /** How much worse than production the candidate is, in the metric's units (negative: better). */
  regression?: number | null
  /** The largest regression allowed, in the metric's units (resolved from a relative threshold). */
  allowedRegression?: number | null
  /** Every failed check, with the numbers. Empty when the gate passed. */
  reasons: string[]
  /** What was not checked and why (no production model, production not comparable). */
  notes?: string[]
}

/** Absolute threshold of `maxRegression` against production's `value`: `'1%'` is 1% of |value|. */
export function allowedRegression(maxRegression: number | string, value: number): number {
  if (typeof maxRegression === 'number') return maxRegression
  return (Number(maxRegression.slice(0, -1)) / 100) * Math.abs(value)
}

const fmt = (n: number): string => n.toFixed(4)

/**
 * A pipeline's gate, in the spirit of TFX's Evaluator "blessing". The candidate's holdout metric must reach
 * `gate.min` (at least it for higher-is-better metrics such as auc, at most it for losses such as logloss), and,
 * with `gate.maxRegression`, must not be worse than the production model evaluated on the same holdout rows by
 * more than that (absolute, or relative with `'1%'`). Without a production model the change threshold does not
 * apply; when production could not be evaluated on this holdout the verdict says so in `notes` and only `min`
 * decides (a changed task or feature set cannot be compared, and blocking it would make such a change
 * impossible to deploy without forcing).
 */
export function checkGate(pipeline: PipelineSpec, metrics: HeadlineMetrics, production?: ProductionEvaluation | null): GateVerdict {
  const gate = pipeline.gate
  const baselineOf = (metric: string | undefined): GateBaseline | null => {
    if (production === undefined || production === null) return null
    if ('problem' in production) return { version: production.version, value: null, problem: production.problem }
    const value = metric === undefined ? undefined : production.metrics[metric]
    return { version: production.version, value: value ?? null, problem: null }
  }
  if (gate === undefined) {
    return { passed: true, metric: null, value: null, min: null, maxRegression: null, baseline: baselineOf(undefined), regression: null, allowedRegression: null, reasons: [], notes: ['no gate configured'] }
  }
  const value = metrics[gate.metric]
  const lower = lowerIsBetter.has(gate.metric)
  const reasons: string[] = []
  const notes: string[] = []
  const baseline = baselineOf(gate.metric)
  let regression: number | null = null
  let allowed: number | null = null
  if (value === undefined || Number.isNaN(value)) {
    reasons.push(`the gate metric ${gate.metric} was not computed (metrics: ${Object.keys(metrics).join(', ')})`)
  } else {
    if (gate.min !== undefined && (lower ? value > gate.min : value < gate.min)) {
      reasons.push(`${gate.metric} ${fmt(value)} is ${lower ? 'above' : 'below'} the gate's ${lower ? 'maximum' : 'minimum'} of ${gate.min}`)
    }
    if (gate.maxRegression !== undefined) {
      if (baseline === null) {
        notes.push('no production model: maxRegression does not apply')
      } else if (baseline.problem !== null) {
        notes.push(`production v${baseline.version} could not be evaluated on this holdout (${baseline.problem}): maxRegression was not checked`)
      } else if (baseline.value === null || Number.isNaN(baseline.value)) {
        notes.push(`production v${baseline.version} has no ${gate.metric} on this holdout: maxRegression was not checked`)
      } else {
        regression = lower ? value - baseline.value : baseline.value - value
        allowed = allowedRegression(gate.maxRegression, baseline.value)
        if (regression > allowed) {
          const relative = typeof gate.maxRegression === 'string' ? ` (${gate.maxRegression} of production's ${fmt(baseline.value)})` : ''
          reasons.push(
            `${gate.metric} ${fmt(value)} is ${fmt(regression)} worse than production v${baseline.version}'s ${fmt(baseline.value)} on the same holdout; the gate allows at most ${fmt(allowed)}${relative}`,
          )
        }
      }
    }
  }
  return {
    passed: reasons.length === 0,
    metric: gate.metric,
    value: value ?? null,
    min: gate.min ?? null,
    maxRegression: gate.maxRegression ?? null,
    baseline,
    regression,
    allowedRegression: allowed,
    reasons,
    notes,
  }
}
