import { binaryMetrics, regressionMetrics } from '../evaluation/metrics.js'
import type { MetadataDb } from '../storage/metadata/database.js'
import { minuteKey } from './prediction-log.js'

export type Task = 'binary' | 'regression'

/** The online metrics of each task, computed from labelled predictions. */
export const onlineMetricNames = {
  binary: ['auc', 'logloss', 'accuracy'],
  regression: ['rmse', 'mae'],
} as const satisfies Record<Task, readonly string[]>

/** Metrics where lower is better (error rate too); for the others higher is better. */
export const lowerIsBetter: ReadonlySet<string> = new Set(['logloss', 'rmse', 'mae', 'errorRate'])

/** At most this many labelled predictions (the latest) are read per call; `sampled` says when more existed. */
export const maxLabelled = 200_000

/** What one model version did in a window, before it is summarised. */
export interface OnlinePart {
  readonly version: number
  /** Predictions served. */
  served: number
  requests: number
  /** Predict requests the version refused or failed. */
  errors: number
  readonly labels: number[]
  readonly predictions: number[]
  sampled: boolean
}

/** Online quality of one model version, or of an arm of a canary (several versions). */
export interface OnlineMetrics {
  served: number
  labelled: number
  requests: number
  errors: number
  /** errors / requests; null without requests. */
  errorRate: number | null
  /** auc, logloss, accuracy (binary) or rmse, mae (regression); null when not computable (too few labels, one class). */
  metrics: Record<string, number | null>
  /** True when only the latest {@link maxLabelled} labelled predictions were used. */
  sampled: boolean
}

export interface VersionOnlineMetrics extends OnlineMetrics {
  version: number
}

export interface OnlineWindow {
  readonly pipeline: string
  /** Predictions served in [since, until) count; request counts are kept per minute, so they count by minute. */
  readonly since: Date
  readonly until: Date
}

/**
 * Reads what each model version of a pipeline did in a window: predictions served, labelled predictions (from
 * feedback), predict requests and errors.
 */
export async function onlineParts(db: MetadataDb, window: OnlineWindow): Promise<Map<number, OnlinePart>> {
  const since = window.since.toISOString()
  const until = window.until.toISOString()
  const parts = new Map<number, OnlinePart>()
  const part = (version: number): OnlinePart => {
    let p = parts.get(version)
    if (p === undefined) {
      p = { version, served: 0, requests: 0, errors: 0, labels: [], predictions: [], sampled: false }
      parts.set(version, p)
    }
    return p
  }
  const inWindow = db.selectFrom('predictions').where('pipeline', '=', window.pipeline).where('served_at', '>=', since).where('served_at', '<', until)
  const served = await inWindow.select((eb) => ['version', eb.fn.countAll<number>().as('n')]).groupBy('version').execute()
  for (const row of served) part(Number(row.version)).served = Number(row.n)

  const labelled = await inWindow
    .select(['version', 'prediction', 'label'])
    .where('label', 'is not', null)
    .where('prediction', 'is not', null)
    .orderBy('served_at', 'desc')
    .limit(maxLabelled + 1)
    .execute()
  for (const [i, row] of labelled.entries()) {
    const p = part(Number(row.version))
    if (i === maxLabelled) {
      for (const q of parts.values()) q.sampled = true
      break
    }
    p.labels.push(Number(row.label))
    p.predictions.push(Number(row.prediction))
  }

  const counts = await db
    .selectFrom('serving_counts')
    .select((eb) => ['version', eb.fn.sum<number>('requests').as('requests'), eb.fn.sum<number>('errors').as('errors')])
    .where('pipeline', '=', window.pipeline)
    .where('minute', '>=', minuteKey(Math.floor(window.since.getTime() / 60_000)))
    .where('minute', '<=', minuteKey(Math.floor((window.until.getTime() - 1) / 60_000)))
    .groupBy('version')
    .execute()
  for (const row of counts) {
    const p = part(Number(row.version))
    p.requests = Number(row.requests)
    p.errors = Number(row.errors)
  }
  return parts
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null)

/** Summarises parts (one version, or the versions of one canary arm) into metrics. */
export function summarize(task: Task, parts: readonly OnlinePart[]): OnlineMetrics {
  let labels = parts.flatMap((p) => p.labels)
  let predictions = parts.flatMap((p) => p.predictions)
  if (task === 'binary') {
    // Only 0/1 labels and probabilities can be scored as binary (a pipeline's task may have changed since).
    const keep = labels.map((y, i) => (y === 0 || y === 1) && predictions[i]! >= 0 && predictions[i]! <= 1)
    labels = labels.filter((_, i) => keep[i])
    predictions = predictions.filter((_, i) => keep[i])
  }
  const requests = parts.reduce((n, p) => n + p.requests, 0)
  const errors = parts.reduce((n, p) => n + p.errors, 0)
  const metrics: Record<string, number | null> = Object.fromEntries(onlineMetricNames[task].map((name) => [name, null]))
  if (labels.length > 0) {
    if (task === 'binary') {
      const m = binaryMetrics(labels, predictions)
      metrics.auc = finite(m.auc)
      metrics.logloss = finite(m.logLoss)
      metrics.accuracy = finite(m.atHalf.accuracy)
    } else {
      const m = regressionMetrics(labels, predictions)
      metrics.rmse = finite(m.rmse)
      metrics.mae = finite(m.mae)
    }
  }
  return {
    served: parts.reduce((n, p) => n + p.served, 0),
    labelled: labels.length,
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : null,
    metrics,
    sampled: parts.some((p) => p.sampled),
  }
}

/**
 * Online metrics per model version of a pipeline over a sliding window: predictions served, how many got a
 * label, AUC / log loss / accuracy (binary, accuracy at 0.5) or RMSE / MAE (regression) of the labelled ones,
 * and the error rate of predict requests. Versions in ascending order.
 * @example await onlineMetrics(db, 'binary', { pipeline: 'spam', since: new Date(Date.now() - 3_600_000), until: new Date() })
 */
export async function onlineMetrics(db: MetadataDb, task: Task, window: OnlineWindow): Promise<VersionOnlineMetrics[]> {
  const parts = await onlineParts(db, window)
  return [...parts.values()].sort((a, b) => a.version - b.version).map((p) => ({ version: p.version, ...summarize(task, [p]) }))
}
