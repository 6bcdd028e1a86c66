import { pino, type Logger } from 'pino'
import type { Platform } from '../app/platform.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { maxReasonLength, rollbackProduction } from '../registry/deploys.js'
import { pipelineSpecOf } from '../training/train.js'
import {
  recordEvent,
  ruleStates,
  saveRuleStep,
  stepRule,
  type ActionResult,
  type RuleEvent,
  type RuleStatus,
  type RuleStep,
} from './rules.js'
import { monitorSettings, type MonitorSettings } from './settings.js'
import { measureStaleness, type Staleness } from './staleness.js'
import { deliverWebhook, type WebhookOptions } from './webhook.js'
import {
  measureWindow,
  storeWindow,
  storedWindows,
  windowAt,
  windowVolume,
  type MonitorWindow,
} from './windows.js'

/** Who the monitor records as the actor of its retrains and rollbacks. */
export const monitorActor = 'freshet monitor'

export interface MonitorOptions {
  /** The clock (tests move it). */
  readonly now?: () => Date
  /** Where alerts are logged, one JSON line each; default pino to stdout. */
  readonly logger?: Logger
  /** Retries and timeouts of alert webhooks. */
  readonly webhook?: Omit<WebhookOptions, 'secret'>
}

/** What one evaluation of a pipeline saw and did. */
export interface MonitorCheck {
  readonly pipeline: string
  /** The window the rules read: the current one once it has `minRows` predictions (or requests), else the previous one. */
  readonly window: MonitorWindow | null
  readonly variables: Record<string, number | null>
  readonly staleness: Staleness
  readonly rules: readonly {
    readonly rule: string
    readonly state: RuleStatus['state']
    readonly event: RuleEvent | null
  }[]
}

/** The variables rules read, from a measured window and the staleness. */
export function monitorVariables(
  window: MonitorWindow | null,
  staleness: Staleness,
): Record<string, number | null> {
  const variables: Record<string, number | null> = {
    drift: window?.drift ?? null,
    prediction_drift: window?.predictionDrift ?? null,
    'staleness.data': staleness.dataHours,
    'staleness.deploy': staleness.deployHours,
  }
  for (const [feature, d] of Object.entries(window?.features ?? {}))
    variables[`drift.${feature}`] = d.distance
  const online = window?.online.find((o) => o.version === window.version)
  for (const name of ['auc', 'logloss', 'accuracy', 'rmse', 'mae'])
    variables[name] = online?.metrics[name] ?? null
  variables.error_rate = online?.errorRate ?? null
  return variables
}

/**
 * Measures the pipeline's current window (and the previous one, until it is measured complete), stores them, and
 * steps every rule, running the actions of each rule that starts firing (and `alert` when one resolves).
 */
export async function checkPipeline(
  platform: Platform,
  pipeline: string,
  options: MonitorOptions = {},
): Promise<MonitorCheck> {
  const now = (options.now ?? (() => new Date()))()
  const spec = pipelineSpecOf(platform, pipeline)
  const settings = monitorSettings(pipeline, spec)
  const current = windowAt(now.getTime(), settings.windowMs)
  const previous = windowAt(current.start.getTime() - 1, settings.windowMs)
  const measured = await measureWindow(platform, pipeline, spec, current.start, current.end, now)
  await storeWindow(platform, measured)
  let before = (await storedWindows(platform, pipeline, 2)).find(
    (w) => w.start === previous.start.toISOString(),
  )
  if (before === undefined || !before.complete) {
    before = await measureWindow(platform, pipeline, spec, previous.start, previous.end, now)
    await storeWindow(platform, before)
  }
  const window =
    windowVolume(measured) >= settings.minRows
      ? measured
      : windowVolume(before) >= settings.minRows
        ? before
        : null
  const staleness = await measureStaleness(platform, pipeline, settings, now)
  const variables = monitorVariables(window, staleness)
  const states = await ruleStates(platform.db, pipeline)
  const rules: MonitorCheck['rules'][number][] = []
  for (const rule of settings.rules) {
    const step = stepRule(rule, states.get(rule.name), variables, now)
    if (!(await saveRuleStep(platform.db, pipeline, step))) {
      rules.push({
        rule: rule.name,
        state: (await ruleStates(platform.db, pipeline)).get(rule.name)?.state ?? 'ok',
        event: null,
      })
      continue
    }
    let event: RuleEvent | null = null
    if (step.transition !== null)
      event = await transition(platform, pipeline, settings, step, window, now, options)
    rules.push({ rule: rule.name, state: step.after.state, event })
  }
  return { pipeline, window, variables, staleness, rules }
}

async function transition(
  platform: Platform,
  pipeline: string,
  settings: MonitorSettings,
  step: RuleStep,
  window: MonitorWindow | null,
  now: Date,
  options: MonitorOptions,
): Promise<RuleEvent> {
  const kind = step.transition as 'firing' | 'resolved'
  const values = {
    ...step.values,
    window:
      window === null
        ? null
        : { start: window.start, end: window.end, version: window.version, rows: window.rows },
  }
  const summary = Object.entries(step.values)
    .map(([name, value]) => `${name} = ${value === null ? 'unknown' : Number(value.toPrecision(4))}`)
    .join(', ')
  const reason = `monitor ${JSON.stringify(step.rule.name)} ${kind}: ${step.rule.when} (${summary})`
  const actions: ActionResult[] = []
  // A resolution is announced; retrain and rollback only act when a rule starts firing.
  const todo = kind === 'firing' ? step.rule.then : step.rule.then.filter((a) => a === 'alert')
  for (const action of todo) {
    try {
      if (action === 'alert')
        actions.push(
          await alert(
            pipeline,
            settings,
            {
              pipeline,
              rule: step.rule.name,
              transition: kind,
              condition: step.rule.when,
              values,
              at: now.toISOString(),
              reason,
            },
            options,
          ),
        )
      else if (action === 'retrain') {
        const run = await platform.runs.enqueue({
          pipeline,
          trigger: {
            type: 'monitor',
            actor: monitorActor,
            reason: clip(reason),
            details: { rule: step.rule.name, values },
          },
          // One run per firing: the key names the moment the condition became true.
          idempotencyKey: `monitor:${step.rule.name}:${step.after.since ?? now.toISOString()}`,
        })
        actions.push({ action, ok: true, detail: `queued run ${run.id}`, data: { runId: run.id } })
      } else {
        const outcome = await rollbackProduction(platform.registry, {
          pipeline,
          actor: monitorActor,
          reason: clip(reason),
        })
        actions.push({
          action,
          ok: true,
          detail: `production v${outcome.from ?? '-'} -> v${outcome.to}`,
          data: { from: outcome.from, to: outcome.to },
        })
      }
    } catch (error) {
      actions.push({
        action,
        ok: false,
        detail: isFreshetError(error) ? error.describe() : (error as Error).message,
      })
    }
  }
  return recordEvent(platform.db, {
    pipeline,
    rule: step.rule.name,
    transition: kind,
    condition: step.rule.when,
    values,
    actions,
    at: now.toISOString(),
  })
}

const clip = (text: string) =>
  text.length <= maxReasonLength ? text : `${text.slice(0, maxReasonLength - 1)}…`

let defaultLogger: Logger | undefined

async function alert(
  pipeline: string,
  settings: MonitorSettings,
  payload: Record<string, unknown> & { reason: string },
  options: MonitorOptions,
): Promise<ActionResult> {
  const logger = options.logger ?? (defaultLogger ??= pino({ name: 'freshet-monitor' }))
  const log = (payload.transition === 'firing' ? logger.warn : logger.info).bind(logger)
  log({ alert: payload }, payload.reason)
  const webhook = settings.webhook
  if (webhook === null) return { action: 'alert', ok: true, detail: 'logged' }
  const secret = webhook.secretEnv === null ? undefined : process.env[webhook.secretEnv]
  if (webhook.secretEnv !== null && (secret === undefined || secret === '')) {
    return {
      action: 'alert',
      ok: false,
      detail: `logged; not sent to the webhook: environment variable ${webhook.secretEnv} (alerts.webhook.secretEnv of pipeline ${pipeline}) is not set, and alerts are only sent signed`,
    }
  }
  const delivery = await deliverWebhook(webhook.url, payload, { ...options.webhook, secret })
  return {
    action: 'alert',
    ok: delivery.delivered,
    detail: delivery.delivered
      ? `logged; webhook answered ${delivery.status} after ${delivery.attempts} attempt(s)`
      : `logged; webhook failed after ${delivery.attempts} attempt(s): ${delivery.error ?? 'no answer'}`,
    data: { ...delivery },
  }
}

/** The pipelines worth monitoring: those with monitors, monitoring settings or a production model. */
async function monitoredPipelines(platform: Platform): Promise<string[]> {
  const pipelines = platform.config.config.pipelines ?? {}
  const served = new Set(
    (
      await platform.db
        .selectFrom('model_aliases')
        .select('pipeline')
        .where('alias', '=', 'production')
        .execute()
    ).map((r) => r.pipeline),
  )
  return Object.entries(pipelines)
    .filter(
      ([name, spec]) => served.has(name) || spec.monitors !== undefined || spec.monitoring !== undefined,
    )
    .map(([name]) => name)
}

/**
 * {@link checkPipeline} for every monitored pipeline; a pipeline whose check fails is reported with its error and
 * the others are still checked.
 */
export async function checkMonitors(
  platform: Platform,
  options: MonitorOptions = {},
): Promise<(MonitorCheck | { pipeline: string; error: unknown })[]> {
  const results: (MonitorCheck | { pipeline: string; error: unknown })[] = []
  for (const pipeline of await monitoredPipelines(platform)) {
    try {
      results.push(await checkPipeline(platform, pipeline, options))
    } catch (error) {
      results.push({ pipeline, error })
    }
  }
  return results
}

export interface StartMonitorOptions extends MonitorOptions {
  /** Time between evaluations; default 30 s. */
  readonly intervalMs?: number
  /** Called after each pipeline's evaluation. */
  readonly onCheck?: (check: MonitorCheck) => void
  /** Called when a pipeline's evaluation (or the whole round) failed; the next round runs as planned. */
  readonly onError?: (error: unknown, pipeline?: string) => void
}

/**
 * The evaluator loop: {@link checkMonitors} now and then every `intervalMs`, until the returned function is
 * called; it resolves once a round in progress has finished.
 * @example const stop = startMonitor(platform, { intervalMs: 30_000 }); ...; await stop()
 */
export function startMonitor(platform: Platform, options: StartMonitorOptions = {}): () => Promise<void> {
  const intervalMs = options.intervalMs ?? 30_000
  if (!(intervalMs > 0))
    throw new FreshetError('USAGE', `the monitor interval must be above 0 ms, got ${intervalMs}`)
  const onError =
    options.onError ??
    ((error: unknown, pipeline?: string) =>
      console.error(`monitor${pipeline === undefined ? '' : ` ${pipeline}`}: ${(error as Error).message}`))
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const round = async (): Promise<void> => {
    try {
      for (const result of await checkMonitors(platform, options)) {
        if ('error' in result) onError(result.error, result.pipeline)
        else options.onCheck?.(result)
      }
    } catch (error) {
      onError(error)
    }
  }
  const run = (): void => {
    running = round().finally(() => {
      running = undefined
      if (!stopped) timer = setTimeout(run, intervalMs)
    })
  }
  run()
  return async () => {
    stopped = true
    clearTimeout(timer)
    await running
  }
}
