import type { Platform } from '../app/platform.js'
import type { PipelineSpec } from '../config/schema.js'
import { onlineMetrics, type VersionOnlineMetrics } from '../serving/online-metrics.js'
import { baselineOf } from './baseline.js'
import { DriftAccumulator, type FeatureDrift } from './drift.js'

/** Serving drift and online quality of one pipeline in one window, as stored. */
export interface MonitorWindow {
  readonly pipeline: string
  readonly start: string
  readonly end: string
  /** The production version compared with its training data; null when there was none. */
  readonly version: number | null
  /** Predictions of that version read in the window. */
  readonly rows: number
  /** True when the window held more than {@link maxWindowRows} predictions and only the latest were read. */
  readonly sampled: boolean
  /** Largest feature distance; null without rows or baseline. */
  readonly drift: number | null
  readonly predictionDrift: number | null
  readonly features: Record<string, FeatureDrift>
  /** Online quality per version that served in the window (from feedback). */
  readonly online: VersionOnlineMetrics[]
  /** Why drift was not measured, when it was not. */
  readonly note: string | null
  readonly computedAt: string
  /** False while the window is still going on (it is measured again). */
  readonly complete: boolean
}

/** Most predictions read per window (the latest): drift is a distribution, so a large sample measures it. */
export const maxWindowRows = 50_000
const pageRows = 5000

/** The window of `windowMs` (aligned to the epoch) that holds `at`. */
export function windowAt(at: number, windowMs: number): { start: Date; end: Date } {
  const start = Math.floor(at / windowMs) * windowMs
  return { start: new Date(start), end: new Date(start + windowMs) }
}

/**
 * Measures a window: the served instances of the production version (as of the window's end) against that
 * version's training baseline, its predictions against its holdout predictions, and online quality per version.
 * Reads the prediction log in pages, so memory stays bounded by the page and the counts.
 */
export async function measureWindow(
  platform: Platform,
  pipeline: string,
  spec: PipelineSpec,
  start: Date,
  end: Date,
  now: Date,
): Promise<MonitorWindow> {
  const at = new Date(Math.min(end.getTime(), now.getTime()) - 1)
  // Alias moves are stamped by the wall clock; a window at another time (a test's clock) falls back to today's.
  const version =
    (await platform.registry.aliasAt(pipeline, 'production', at)) ??
    (await platform.registry.alias(pipeline, 'production')) ??
    null
  const online = await onlineMetrics(platform.db, spec.task, { pipeline, since: start, until: end })
  const base = {
    pipeline,
    start: start.toISOString(),
    end: end.toISOString(),
    version,
    online,
    computedAt: now.toISOString(),
    complete: now.getTime() >= end.getTime(),
  }
  const empty = { rows: 0, sampled: false, drift: null, predictionDrift: null, features: {} }
  if (version === null) return { ...base, ...empty, note: 'no production model' }
  const model = await platform.registry.version(pipeline, version)
  const baseline = baselineOf(model.lineage)
  if (baseline === undefined) {
    const served = online.find((o) => o.version === version)?.served ?? 0
    return {
      ...base,
      ...empty,
      rows: served,
      note: `v${version} has no training baseline (trained before monitoring existed): retrain to measure its serving drift`,
    }
  }

  const accumulator = new DriftAccumulator(baseline)
  let rows = 0
  let sampled = false
  let cursor: { servedAt: string; id: string } | undefined
  for (;;) {
    let query = platform.db
      .selectFrom('predictions')
      .select(['id', 'served_at', 'instance', 'prediction'])
      .where('pipeline', '=', pipeline)
      .where('version', '=', version)
      .where('served_at', '>=', base.start)
      .where('served_at', '<', base.end)
    if (cursor !== undefined) {
      const c = cursor
      query = query.where((eb) =>
        eb.or([
          eb('served_at', '<', c.servedAt),
          eb.and([eb('served_at', '=', c.servedAt), eb('id', '<', c.id)]),
        ]),
      )
    }
    const page = await query.orderBy('served_at', 'desc').orderBy('id', 'desc').limit(pageRows).execute()
    for (const row of page) {
      if (rows === maxWindowRows) {
        sampled = true
        break
      }
      rows++
      accumulator.add(parseInstance(row.instance), row.prediction === null ? null : Number(row.prediction))
    }
    const last = page.at(-1)
    if (sampled || page.length < pageRows || last === undefined) break
    cursor = { servedAt: last.served_at, id: last.id }
  }
  const drift = accumulator.result()
  return {
    ...base,
    rows,
    sampled,
    drift: drift.drift,
    predictionDrift: drift.predictionDrift,
    features: drift.features,
    note: rows === 0 ? `v${version} served nothing in this window` : null,
  }
}

function parseInstance(json: string | null): unknown {
  try {
    return json === null ? null : (JSON.parse(json) as unknown)
  } catch {
    // An instance cut to fit the log is still JSON; anything else counts as an instance with no values.
    return null
  }
}

/**
 * How much traffic the production version had in a window: predictions served, or predict requests when more (a
 * version that fails every request serves none, and its error rate must still count).
 */
export function windowVolume(window: MonitorWindow): number {
  const requests = window.online.find((o) => o.version === window.version)?.requests ?? 0
  return Math.max(window.rows, requests)
}

/** Stores (or replaces) a measured window. */
export async function storeWindow(platform: Platform, window: MonitorWindow): Promise<void> {
  const row = {
    pipeline: window.pipeline,
    window_start: window.start,
    window_end: window.end,
    version: window.version,
    rows: window.rows,
    sampled: window.sampled ? 1 : 0,
    drift: window.drift,
    prediction_drift: window.predictionDrift,
    features: JSON.stringify(window.features),
    online: JSON.stringify(window.online),
    note: window.note,
    computed_at: window.computedAt,
  }
  const { pipeline: _p, window_start: _s, ...changes } = row
  await platform.db
    .insertInto('monitor_windows')
    .values(row)
    .onConflict((oc) => oc.columns(['pipeline', 'window_start']).doUpdateSet(changes))
    .execute()
}

/** The stored windows of a pipeline, newest first, at most `limit`. */
export async function storedWindows(
  platform: Platform,
  pipeline: string,
  limit = 48,
): Promise<MonitorWindow[]> {
  const rows = await platform.db
    .selectFrom('monitor_windows')
    .selectAll()
    .where('pipeline', '=', pipeline)
    .orderBy('window_start', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({
    pipeline: r.pipeline,
    start: r.window_start,
    end: r.window_end,
    version: r.version === null ? null : Number(r.version),
    rows: Number(r.rows),
    sampled: Number(r.sampled) === 1,
    drift: r.drift === null ? null : Number(r.drift),
    predictionDrift: r.prediction_drift === null ? null : Number(r.prediction_drift),
    features: JSON.parse(r.features) as Record<string, FeatureDrift>,
    online: JSON.parse(r.online) as VersionOnlineMetrics[],
    note: r.note,
    computedAt: r.computed_at,
    complete: r.computed_at >= r.window_end,
  }))
}
