import type { Platform } from '../app/platform.js'
import { formatDuration } from '../core/durations.js'
import { pipelineSpecOf } from '../training/train.js'
import { ruleEvents, ruleStates, type RuleEvent } from './rules.js'
import { monitorSettings } from './settings.js'
import { measureStaleness, type Staleness } from './staleness.js'
import { measureWindow, storedWindows, windowAt, type MonitorWindow } from './windows.js'

/** What `freshet monitor` and `GET /api/v1/monitoring/{pipeline}` show. */
export interface MonitoringStatus {
  readonly pipeline: string
  readonly production: number | null
  readonly window: string
  readonly minRows: number
  /** Newest first; the current window is measured live when the monitor has not stored it yet. */
  readonly windows: readonly MonitorWindow[]
  readonly staleness: Staleness
  readonly rules: readonly {
    readonly name: string
    readonly when: string
    readonly for: string
    readonly then: readonly string[]
    readonly state: string
    readonly since: string | null
    readonly values: Record<string, number | null>
  }[]
  /** Rule transitions, newest first. */
  readonly events: readonly RuleEvent[]
}

/**
 * The monitoring state of a pipeline: drift and online quality per window, staleness, rule states and recent
 * transitions. Reads only (a live window is measured, not stored).
 * @throws FreshetError `PIPELINE_NOT_FOUND`, `CONFIG_INVALID` for a monitor condition naming an unknown feature.
 */
export async function monitoringStatus(
  platform: Platform,
  pipeline: string,
  options: { now?: Date; windows?: number } = {},
): Promise<MonitoringStatus> {
  const now = options.now ?? new Date()
  const spec = pipelineSpecOf(platform, pipeline)
  const settings = monitorSettings(pipeline, spec)
  const windows = await storedWindows(platform, pipeline, Math.max(1, Math.min(options.windows ?? 24, 500)))
  const current = windowAt(now.getTime(), settings.windowMs)
  if (!windows.some((w) => w.start === current.start.toISOString())) {
    windows.push(await measureWindow(platform, pipeline, spec, current.start, current.end, now))
    windows.sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0))
  }
  const states = await ruleStates(platform.db, pipeline)
  return {
    pipeline,
    production: (await platform.registry.alias(pipeline, 'production')) ?? null,
    window: settings.window,
    minRows: settings.minRows,
    windows,
    staleness: await measureStaleness(platform, pipeline, settings, now),
    rules: settings.rules.map((rule) => {
      const state = states.get(rule.name)
      return {
        name: rule.name,
        when: rule.when,
        for: formatDuration(rule.forMs),
        then: rule.then,
        state: state?.state ?? 'ok',
        since: state?.since ?? null,
        values: state?.values ?? {},
      }
    }),
    events: await ruleEvents(platform, pipeline, 20),
  }
}
