import type { PipelineSpec } from '../config/schema.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { parseCondition, type Condition } from './expression.js'

export type MonitorAction = 'alert' | 'retrain' | 'rollback'

/** A monitor rule of a pipeline, parsed. */
export interface MonitorRule {
  readonly name: string
  readonly when: string
  readonly condition: Condition
  readonly forMs: number
  readonly then: readonly MonitorAction[]
}

/** A pipeline's monitoring settings with their defaults filled in. */
export interface MonitorSettings {
  readonly windowMs: number
  readonly window: string
  readonly minRows: number
  readonly staleness: { readonly data: string | null; readonly deploy: string | null }
  readonly rules: readonly MonitorRule[]
  readonly webhook: { readonly url: string; readonly secretEnv: string | null } | null
}

export const defaultWindow = '1h'
export const defaultMinRows = 100

/**
 * The monitoring settings of a pipeline. Conditions were checked when the config loaded; here `drift.<feature>`
 * is also checked against the pipeline's input columns.
 * @throws FreshetError `CONFIG_INVALID` naming the rule and the position in its condition.
 */
export function monitorSettings(pipeline: string, spec: PipelineSpec): MonitorSettings {
  const window = spec.monitoring?.window ?? defaultWindow
  if (parseDuration(window) < 1000) {
    throw new FreshetError(
      'CONFIG_INVALID',
      `pipelines.${pipeline}.monitoring.window: a monitoring window lasts at least 1s, got ${window}`,
      { hint: "use a window like '15m' or '1h'" },
    )
  }
  const columns = [
    ...new Set(
      Object.entries(spec.features).flatMap(([name, f]) => (f.type === 'cross' ? f.columns : [name])),
    ),
  ]
  const rules = (spec.monitors ?? []).map((rule, i) => {
    let condition: Condition
    try {
      condition = parseCondition(rule.when, columns)
    } catch (error) {
      if (!isFreshetError(error)) throw error
      throw new FreshetError(
        'CONFIG_INVALID',
        `pipelines.${pipeline}.monitors[${i}].when: ${error.message}`,
        { ...(error.hint === undefined ? {} : { hint: error.hint }) },
      )
    }
    return {
      name: rule.name ?? rule.when,
      when: rule.when,
      condition,
      forMs: rule.for === undefined ? 0 : parseDuration(rule.for),
      then: rule.then,
    }
  })
  const webhook = spec.alerts?.webhook
  return {
    windowMs: parseDuration(window),
    window,
    minRows: spec.monitoring?.minRows ?? defaultMinRows,
    staleness: {
      data: spec.monitoring?.staleness?.data ?? null,
      deploy: spec.monitoring?.staleness?.deploy ?? null,
    },
    rules,
    webhook: webhook === undefined ? null : { url: webhook.url, secretEnv: webhook.secretEnv ?? null },
  }
}
