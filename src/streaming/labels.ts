import { randomUUID } from 'node:crypto'
import { appendFile, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Platform } from '../app/platform.js'
import type { DatasetSpec } from '../config/schema.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import { datasetSpecOf } from '../data/datasets.js'
import { ingestFile } from '../data/ingest.js'
import { topicSpecOf } from './topics.js'

/** Where an example stands: its label event arrived within the window, the window passed without one, or neither yet. */
export type LabelState = 'positive' | 'negative' | 'pending'

/**
 * The label of an example at `exampleAt` (ms) whose first label event (same key) is at `labelAt`, given the
 * watermark: positive as soon as a label event within `[exampleAt, exampleAt + windowMs]` is seen; negative once the
 * watermark has passed the end of the window without one (a label event after the window does not count); pending
 * before.
 */
export function labelState(exampleAt: number, labelAt: number | undefined, watermark: number, windowMs: number): LabelState {
  if (labelAt !== undefined && labelAt >= exampleAt && labelAt - exampleAt <= windowMs) return 'positive'
  return watermark >= exampleAt + windowMs ? 'negative' : 'pending'
}

/** Label maturity of one bucket of example event time. */
export interface BucketMaturity {
  /** Bucket of example event time, `[start, end)`. */
  readonly start: string
  readonly end: string
  readonly examples: number
  readonly positive: number
  readonly negative: number
  readonly pending: number
  /** Share of examples with a final label: (positive + negative) / examples. */
  readonly maturity: number
  /** Every example's window has passed the watermark: the bucket is (or will be) written to the dataset. */
  readonly matured: boolean
  /** Examples of this bucket in the dataset's batches, after this call. */
  readonly written: number
}

export interface LabelReport {
  readonly dataset: string
  /** Lower of the two topics' latest event time, minus the allowed lateness; null before both have events. */
  readonly watermark: string | null
  readonly windowMs: number
  readonly buckets: BucketMaturity[]
  /** Batches this call ingested (one per matured bucket with new examples), with their state. */
  readonly batches: { readonly bucket: string; readonly rows: number; readonly status: string; readonly state: string }[]
  /** Examples without a usable event time or key: not joinable, left in the topic and counted here. */
  readonly unjoinable: number
}

interface Join {
  readonly examples: string
  readonly labels: string
  readonly key: string
  readonly exampleTime: string
  readonly labelTime: string
  readonly labelColumn: string
  readonly windowMs: number
  readonly bucketMs: number
  readonly latenessMs: number
}

function joinOf(platform: Platform, dataset: string): Join {
  const spec: DatasetSpec = datasetSpecOf(platform.config, dataset)
  const labels = spec.labels
  if (labels === undefined) {
    throw new FreshetError('USAGE', `dataset ${dataset} takes no labels from a topic`, {
      hint: "add labels: { examples: 'impressions', topic: 'conversions', key: 'impression_id', window: '30d' } to the dataset",
    })
  }
  if (spec.label === undefined) throw new FreshetError('USAGE', `dataset ${dataset} takes labels from topic ${labels.topic} but names no label column`, { hint: "add label: 'converted' to the dataset" })
  const exampleSpec = topicSpecOf(platform.config, labels.examples)
  const labelSpec = topicSpecOf(platform.config, labels.topic)
  for (const [name, topic] of [[labels.examples, exampleSpec], [labels.topic, labelSpec]] as const) {
    if (topic.eventTime === undefined) throw new FreshetError('USAGE', `topic ${name} has no eventTime field, so its events cannot be placed in an attribution window`, { hint: `add eventTime to topic ${name}` })
    if (topic.schema[labels.key] === undefined) throw new FreshetError('USAGE', `topic ${name} has no field ${labels.key} to join on`, { hint: `fields of ${name}: ${Object.keys(topic.schema).join(', ')}` })
  }
  return {
    examples: labels.examples,
    labels: labels.topic,
    key: labels.key,
    exampleTime: exampleSpec.eventTime!,
    labelTime: labelSpec.eventTime!,
    labelColumn: spec.label,
    windowMs: parseDuration(labels.window),
    bucketMs: parseDuration(labels.bucket ?? '1d'),
    latenessMs: parseDuration(labels.lateness ?? '0s'),
  }
}

const pageSize = 5000
/** Most distinct label keys held while joining (one string and one number each). */
export const maxLabelKeys = 5_000_000

function field(payload: unknown, name: string): unknown {
  return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>)[name] : undefined
}

function keyOf(payload: unknown, name: string): string | undefined {
  const value = field(payload, name)
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined
}

function timeOf(payload: unknown, name: string): number | undefined {
  const value = field(payload, name)
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN
  return Number.isFinite(ms) ? ms : undefined
}

/** The batches of this join are named `labels-<bucket start>-<first offset>-<last offset>.jsonl`. */
const batchName = /^labels-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)-(\d+)-(\d+)\.jsonl$/

/** Per bucket: the highest example offset already in the dataset, and how many rows its batches hold. */
async function coverage(platform: Platform, dataset: string): Promise<Map<number, { to: number; rows: number }>> {
  const rows = await platform.db.selectFrom('batches').select(['source_name', 'row_count']).where('dataset', '=', dataset).where('parent_id', 'is', null).execute()
  const covered = new Map<number, { to: number; rows: number }>()
  for (const row of rows) {
    const match = batchName.exec(path.basename(row.source_name))
    if (match === null) continue
    const start = Date.parse(match[1]!)
    const before = covered.get(start) ?? { to: 0, rows: 0 }
    covered.set(start, { to: Math.max(before.to, Number(match[3])), rows: before.rows + Number(row.row_count) })
  }
  return covered
}

/**
 * Joins a dataset's examples topic with its label topic (see `labels` in the dataset config) and writes every
 * matured bucket's new examples, with the label column set to 1 or 0, as one dataset batch (a JSONL file in a
 * scratch folder, ingested through the same validation and quarantine as any file). Pending examples are never
 * written, so training sees matured labels only; an older bucket whose last windows have passed is written by a
 * later call. Answers the maturity of every bucket.
 *
 * Exactly once: a bucket's batches are named by their example offsets, so a call skips what earlier calls wrote
 * (an example that arrived after its bucket was written goes into a new batch of that bucket); re-running after a
 * crash writes the same bytes, which ingest answers as a duplicate.
 *
 * Memory: the first label time per key (bounded by {@link maxLabelKeys}) and counts per bucket; examples are read
 * in pages and streamed to the scratch files. Each call reads both topics from their oldest retained event, so
 * the topics' `retention` must exceed the attribution window plus a bucket.
 *
 * @param options.write false: report maturity only (nothing is ingested).
 * @throws FreshetError `USAGE` when the dataset takes no labels from a topic, `INPUT_TOO_LARGE` past
 * {@link maxLabelKeys}.
 */
export async function materializeLabels(platform: Platform, dataset: string, options: { readonly write?: boolean; readonly signal?: AbortSignal } = {}): Promise<LabelReport> {
  const join = joinOf(platform, dataset)
  const labelAt = new Map<string, number>()
  let labelMax = Number.NEGATIVE_INFINITY
  for (let after = 0; ; ) {
    const page = await platform.log.read(join.labels, { after, limit: pageSize })
    if (page.length === 0) break
    for (const event of page) {
      const key = keyOf(event.payload, join.key)
      const at = timeOf(event.payload, join.labelTime)
      if (key === undefined || at === undefined) continue
      labelMax = Math.max(labelMax, at)
      const first = labelAt.get(key)
      if (first === undefined || at < first) labelAt.set(key, at)
    }
    if (labelAt.size > maxLabelKeys) throw new FreshetError('INPUT_TOO_LARGE', `topic ${join.labels} holds more than ${maxLabelKeys} label keys`, { hint: `set a retention on topic ${join.labels} (longer than the attribution window)` })
    after = page.at(-1)!.offset
    options.signal?.throwIfAborted()
  }

  // The watermark needs both streams: examples and labels may be consumed at different speeds.
  let exampleMax = Number.NEGATIVE_INFINITY
  for (let after = 0; ; ) {
    const page = await platform.log.read(join.examples, { after, limit: pageSize })
    if (page.length === 0) break
    for (const event of page) exampleMax = Math.max(exampleMax, timeOf(event.payload, join.exampleTime) ?? exampleMax)
    after = page.at(-1)!.offset
  }
  const watermark = Math.min(exampleMax, labelMax) - join.latenessMs

  const covered = await coverage(platform, dataset)
  const counts = new Map<number, { examples: number; positive: number; negative: number; pending: number; from: number; to: number; rows: number }>()
  const write = options.write ?? true
  const scratch = path.join(platform.config.stateDir, 'tmp', `labels-${randomUUID()}`)
  if (write) await mkdir(scratch, { recursive: true })
  let unjoinable = 0
  try {
    for (let after = 0; ; ) {
      const page = await platform.log.read(join.examples, { after, limit: pageSize })
      if (page.length === 0) break
      const lines = new Map<number, string[]>()
      for (const event of page) {
        const key = keyOf(event.payload, join.key)
        const at = timeOf(event.payload, join.exampleTime)
        if (key === undefined || at === undefined) {
          unjoinable++
          continue
        }
        const start = Math.floor(at / join.bucketMs) * join.bucketMs
        let bucket = counts.get(start)
        if (bucket === undefined) {
          bucket = { examples: 0, positive: 0, negative: 0, pending: 0, from: 0, to: 0, rows: 0 }
          counts.set(start, bucket)
        }
        const state = labelState(at, labelAt.get(key), watermark, join.windowMs)
        bucket.examples++
        bucket[state]++
        const bucketMatured = watermark >= start + join.bucketMs + join.windowMs
        if (!write || !bucketMatured || event.offset <= (covered.get(start)?.to ?? 0)) continue
        if (bucket.from === 0) bucket.from = event.offset
        bucket.to = event.offset
        bucket.rows++
        const row = { ...(event.payload as Record<string, unknown>), [join.labelColumn]: state === 'positive' ? 1 : 0 }
        let list = lines.get(start)
        if (list === undefined) lines.set(start, (list = []))
        list.push(JSON.stringify(row))
      }
      for (const [start, list] of lines) await appendFile(path.join(scratch, `${start}.jsonl`), `${list.join('\n')}\n`)
      after = page.at(-1)!.offset
      options.signal?.throwIfAborted()
    }

    const batches: LabelReport['batches'][number][] = []
    for (const [start, bucket] of [...counts].sort((a, b) => a[0] - b[0])) {
      if (bucket.rows === 0) continue
      const iso = new Date(start).toISOString()
      const result = await ingestFile(platform, dataset, path.join(scratch, `${start}.jsonl`), { displayName: `labels-${iso}-${bucket.from}-${bucket.to}.jsonl`, ...(options.signal === undefined ? {} : { signal: options.signal }) })
      batches.push({ bucket: iso, rows: bucket.rows, status: result.status, state: result.batch.state })
    }
    const buckets = [...counts]
      .sort((a, b) => a[0] - b[0])
      .map(([start, b]): BucketMaturity => ({
        start: new Date(start).toISOString(),
        end: new Date(start + join.bucketMs).toISOString(),
        examples: b.examples,
        positive: b.positive,
        negative: b.negative,
        pending: b.pending,
        maturity: b.examples === 0 ? 0 : (b.positive + b.negative) / b.examples,
        matured: watermark >= start + join.bucketMs + join.windowMs,
        written: (covered.get(start)?.rows ?? 0) + b.rows,
      }))
    return { dataset, watermark: Number.isFinite(watermark) ? new Date(watermark).toISOString() : null, windowMs: join.windowMs, buckets, batches, unjoinable }
  } finally {
    if (write) await rm(scratch, { recursive: true, force: true })
  }
}

/** Label maturity per bucket of a dataset that takes its labels from a topic, without writing anything. */
export function labelMaturity(platform: Platform, dataset: string): Promise<LabelReport> {
  return materializeLabels(platform, dataset, { write: false })
}

/**
 * The delay model of Chapelle (2014, "Modeling delayed feedback in display advertising"), fitted on matured
 * examples: the conversion rate `rate` and the distribution of the delay from example to label event. Chapelle
 * fits an exponential delay; here the delay's survival function is the empirical one of the matured positives
 * (ads delays mix minutes and weeks, which one exponential fits badly).
 */
export interface DelayModel {
  readonly rate: number
  /** P(delay > elapsed | the example converts within the window). */
  survival(elapsedMs: number): number
}

export function fitDelayModel(matured: readonly { readonly positive: boolean; readonly delayMs?: number }[]): DelayModel {
  const delays = Float64Array.from(matured.flatMap((m) => (m.positive && m.delayMs !== undefined ? [m.delayMs] : []))).sort()
  const rate = matured.length === 0 ? 0 : matured.filter((m) => m.positive).length / matured.length
  return {
    rate,
    survival(elapsed: number): number {
      if (delays.length === 0) return 0
      // Delays above `elapsed`: binary search for the first one greater.
      let lo = 0
      let hi = delays.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (delays[mid]! <= elapsed) lo = mid + 1
        else hi = mid
      }
      return (delays.length - lo) / delays.length
    },
  }
}

/**
 * Delay-aware weight of a pending example (no label event yet, `elapsedMs` after it): the probability that it will
 * still convert, p·S(e) / (1 − p + p·S(e)) — the E-step of Chapelle's EM with the global rate for p. Training on a
 * pending example as positive with this weight and negative with 1 − this weight (or, for trainers without row
 * weights, as positive with this probability, seeded) corrects the bias of treating it as negative.
 */
export function pendingPositiveProbability(model: DelayModel, elapsedMs: number): number {
  const tail = model.rate * model.survival(elapsedMs)
  const denominator = 1 - model.rate + tail
  return denominator <= 0 ? 0 : tail / denominator
}

export interface LabelJoinsOptions {
  /** Between passes (default 60 s): each pass writes the buckets that matured since the last one (catch-up). */
  readonly intervalMs?: number
  readonly onPass?: (report: LabelReport) => void
  /** A pass that failed (the next pass retries it; nothing was half-written, see {@link materializeLabels}). */
  readonly onError?: (dataset: string, error: unknown) => void
}

/**
 * Runs {@link materializeLabels} for every dataset with `labels` in its config, at once and then every
 * `intervalMs`, so past buckets are written as they mature and the dataset's data trigger retrains over them.
 * `stop` waits for the pass in progress.
 */
export function startLabelJoins(platform: Platform, options: LabelJoinsOptions = {}): { readonly datasets: readonly string[]; stop(): Promise<void> } {
  const datasets = Object.entries(platform.config.config.datasets ?? {}).flatMap(([name, spec]) => (spec.labels === undefined ? [] : [name]))
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const pass = async (): Promise<void> => {
    for (const dataset of datasets) {
      if (controller.signal.aborted) return
      try {
        options.onPass?.(await materializeLabels(platform, dataset, { signal: controller.signal }))
      } catch (error) {
        if (!controller.signal.aborted) options.onError?.(dataset, error)
      }
    }
  }
  const tick = (): void => {
    running = pass().finally(() => {
      if (!controller.signal.aborted) timer = setTimeout(tick, options.intervalMs ?? 60_000)
    })
  }
  if (datasets.length > 0) tick()
  return {
    datasets,
    async stop() {
      controller.abort()
      clearTimeout(timer)
      await running
    },
  }
}
