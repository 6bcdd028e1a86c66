import type { PipelineSpec } from '../config/schema.js'
import type { HeadlineMetrics } from '../training/run-training.js'

/** Metrics where lower is better; for all others higher is better. */
const lowerIsBetter = new Set(['logloss', 'rmse', 'mae'])

export interface GateVerdict {
  passed: boolean
  metric: string | null
  value: number | null
  min: number | null
  reasons: string[]
}

/**
 * The absolute part of a pipeline's gate: the candidate's holdout metric must reach `gate.min` (at least it for
 * higher-is-better metrics such as auc, at most it for losses such as logloss).
 */
export function checkGate(pipeline: PipelineSpec, metrics: HeadlineMetrics): GateVerdict {
  const gate = pipeline.gate
  if (gate === undefined) return { passed: true, metric: null, value: null, min: null, reasons: [] }
  const value = metrics[gate.metric]
  const reasons: string[] = []
  if (value === undefined || Number.isNaN(value)) {
    reasons.push(`the gate metric ${gate.metric} was not computed (metrics: ${Object.keys(metrics).join(', ')})`)
  } else if (gate.min !== undefined) {
    const lower = lowerIsBetter.has(gate.metric)
    if (lower ? value > gate.min : value < gate.min) {
      reasons.push(`${gate.metric} ${value.toFixed(4)} is ${lower ? 'above' : 'below'} the gate's ${lower ? 'maximum' : 'minimum'} of ${gate.min}`)
    }
  }
  return { passed: reasons.length === 0, metric: gate.metric, value: value ?? null, min: gate.min ?? null, reasons }
}
