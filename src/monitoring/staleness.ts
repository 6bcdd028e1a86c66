import type { Platform } from '../app/platform.js'
import { parseDuration } from '../core/durations.js'
import type { MonitorSettings } from './settings.js'

/** How old the production model's knowledge is, against the pipeline's budgets. */
export interface Staleness {
  /** The production version; null when there is none (then every age is null). */
  readonly version: number | null
  /** The latest event time in the batches the production model was trained on. */
  readonly newestData: string | null
  readonly dataHours: number | null
  readonly dataBudget: string | null
  /** True when `dataHours` is past its budget; null without a budget or an age. */
  readonly dataOverBudget: boolean | null
  /** When `production` last moved (deploy, rollback, promotion). */
  readonly lastDeploy: string | null
  readonly deployHours: number | null
  readonly deployBudget: string | null
  readonly deployOverBudget: boolean | null
}

const hours = (ms: number) => ms / 3_600_000

/** Time since the newest training data of the production model and since `production` last moved. */
export async function measureStaleness(
  platform: Platform,
  pipeline: string,
  settings: MonitorSettings,
  now: Date,
): Promise<Staleness> {
  const version = (await platform.registry.alias(pipeline, 'production')) ?? null
  let newestData: string | null = null
  if (version !== null) {
    const lineage = (await platform.registry.version(pipeline, version)).lineage
    const ids = Array.isArray(lineage.batches)
      ? lineage.batches
          .map((b: unknown) => (b as { id?: unknown } | null)?.id)
          .filter((id): id is string => typeof id === 'string')
      : []
    for (let i = 0; i < ids.length; i += 500) {
      const row = await platform.db
        .selectFrom('batches')
        .select((eb) => eb.fn.max('max_event_time').as('newest'))
        .where('id', 'in', ids.slice(i, i + 500))
        .executeTakeFirst()
      const newest = row?.newest ?? null
      if (newest !== null && (newestData === null || Date.parse(newest) > Date.parse(newestData)))
        newestData = new Date(Date.parse(newest)).toISOString()
    }
    const recorded = (lineage.eventTimes as { max?: unknown } | undefined)?.max
    if (newestData === null && typeof recorded === 'string') newestData = recorded
  }
  const moves = version === null ? [] : await platform.registry.aliasHistory(pipeline, 'production')
  const lastDeploy = moves.at(-1)?.at ?? null
  const age = (at: string | null) =>
    at === null || Number.isNaN(Date.parse(at)) ? null : Math.max(0, hours(now.getTime() - Date.parse(at)))
  const over = (value: number | null, budget: string | null) =>
    value === null || budget === null ? null : value > hours(parseDuration(budget))
  const dataHours = age(newestData)
  const deployHours = age(lastDeploy)
  return {
    version,
    newestData,
    dataHours,
    dataBudget: settings.staleness.data,
    dataOverBudget: over(dataHours, settings.staleness.data),
    lastDeploy,
    deployHours,
    deployBudget: settings.staleness.deploy,
    deployOverBudget: over(deployHours, settings.staleness.deploy),
  }
}
