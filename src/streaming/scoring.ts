import { createHash } from 'node:crypto'
import type { Platform } from '../app/platform.js'
import type { PipelineSpec } from '../config/schema.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { validateInstance } from '../features/validate.js'
import { ModelCache } from '../serving/model-cache.js'
import { capInstance } from '../serving/prediction-log.js'
import type { Predictor } from '../serving/predictor.js'
import type { LogEvent, NewEvent } from '../storage/log/event-log.js'
import type { PredictionTable } from '../storage/metadata/database.js'
import { deadLetterTopic, type DeadLetter } from './topics.js'

/** What a stream-scoring job publishes to its output topic for each event it scored. */
export interface ScoredEvent {
  readonly eventId: string
  readonly prediction: number | null
  readonly modelVersion: number
  readonly predictionId: string
}

export type ScoreSpec = NonNullable<PipelineSpec['score']>

export interface ScoreBatchResult {
  /** Source offsets handled: `from`..`to`, now committed. */
  readonly from: number
  readonly to: number
  readonly scored: number
  readonly deadLettered: number
  /** Outputs already in the output topic from an attempt that crashed before its commit (not stored twice). */
  readonly duplicates: number
  readonly modelVersion: number
}

/** The durable consumer a pipeline's scoring job reads its topic with. */
export const scoringConsumer = (pipeline: string): string => `score-${pipeline}`

/** Largest instance JSON kept per logged prediction, as in serving. */
const maxInstanceBytes = 16 * 1024

/**
 * A prediction id for the event at (topic, offset) scored for `pipeline`: the UUID v7 layout of serving's ids
 * (time first, so the log's index grows at its end), but the time is the event's append time and the rest comes
 * from a hash of (pipeline, topic, offset). A retry after a crash therefore gives every event the same id, and the
 * prediction log (keyed by id) and the output topic (deduped by message id) both hold it once.
 */
export function streamPredictionId(pipeline: string, event: LogEvent): string {
  const time = event.appendedAt.getTime().toString(16).padStart(12, '0').slice(-12)
  const hash = createHash('sha256').update(`${pipeline}\u0000${event.topic}\u0000${event.offset}`).digest('hex')
  const variant = ((parseInt(hash[15]!, 16) & 0x3) | 0x8).toString(16)
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${hash.slice(0, 3)}-${variant}${hash.slice(3, 6)}-${hash.slice(6, 18)}`
}

/**
 * Scores the next batch of `spec.topic` after the pipeline's consumer offset with `predictor`, exactly once:
 *
 * 1. Each event is checked against the columns the model reads; one that does not fit goes to
 *    `<output>.dead-letter` with the reason, the others are scored in one call (the serving transform and model).
 * 2. The outputs are appended to `spec.output` with the message id `<topic>#<offset>`. An append to the log
 *    cannot join a metadata transaction (the embedded log takes its own; JetStream is another system), so it comes
 *    first: after a crash before step 3 the batch is read again, and the retried append stores nothing twice. The
 *    outputs stored by the first attempt win; the prediction log then takes them (same id, version, prediction),
 *    so the topic and the log never disagree even if the model changed in between.
 * 3. One metadata transaction writes the predictions to the prediction log and moves the consumer offset
 *    (compare-and-swap): both or neither. A second process scoring the same pipeline fails its commit with
 *    `OFFSET_CONFLICT` and writes nothing (its outputs were duplicates).
 *
 * Answers undefined when no event waits.
 * @throws FreshetError `OFFSET_CONFLICT` when another process committed first (call again), and the log's errors
 * (`OVERLOADED` when the output topic is full: nothing is committed, so the batch is retried later).
 */
export async function scoreBatch(platform: Platform, pipeline: string, spec: ScoreSpec, predictor: Predictor): Promise<ScoreBatchResult | undefined> {
  const consumer = scoringConsumer(pipeline)
  const committed = await platform.log.committed(spec.topic, consumer)
  const events = await platform.log.read(spec.topic, { after: committed, limit: spec.batch ?? 500 })
  const last = events.at(-1)
  if (last === undefined) return undefined

  const good: LogEvent[] = []
  const letters: NewEvent[] = []
  for (const event of events) {
    const problem = validateInstance(predictor.manifest.transform, event.payload, 0)
    if (problem === null) {
      good.push(event)
      continue
    }
    const reason = problem.message.replace(/^instances\[0\]\.?/, '')
    const column = typeof problem.column === 'string' ? problem.column : '(event)'
    const letter: DeadLetter & { offset: number; pipeline: string; modelVersion: number } = {
      topic: spec.topic,
      reasons: [{ field: column, expected: `a value the model of pipeline ${pipeline} can score`, got: reason }],
      event: event.payload,
      offset: event.offset,
      pipeline,
      modelVersion: predictor.version,
    }
    letters.push({ payload: letter, messageId: `${spec.topic}#${event.offset}`, ...(event.key === null ? {} : { key: event.key }) })
  }

  const scores = good.length === 0 ? [] : predictor.predict(good.map((e) => e.payload)).predictions
  const outputs: NewEvent[] = good.map((event, i) => {
    const scored: ScoredEvent = {
      eventId: eventIdOf(spec, event),
      prediction: Number.isFinite(scores[i]) ? scores[i]! : null,
      modelVersion: predictor.version,
      predictionId: streamPredictionId(pipeline, event),
    }
    return { payload: scored, messageId: `${spec.topic}#${event.offset}`, ...(event.key === null ? {} : { key: event.key }) }
  })

  let duplicates = 0
  const stored = new Map<number, ScoredEvent>()
  if (outputs.length > 0) {
    const appended = await platform.log.append(spec.output, outputs)
    duplicates += appended.duplicates
    if (appended.duplicates > 0) {
      // An earlier attempt stored some of these: log what it published, not what this attempt computed.
      const offsets = appended.offsets
      const from = Math.min(...offsets)
      const kept = await readRange(platform, spec.output, from - 1, Math.max(...offsets))
      offsets.forEach((offset, i) => {
        const payload = kept.get(offset)
        if (payload !== undefined) stored.set(i, payload as ScoredEvent)
      })
    }
  }
  if (letters.length > 0) duplicates += (await platform.log.append(deadLetterTopic(spec.output), letters)).duplicates

  const servedAt = new Date().toISOString()
  const rows: PredictionTable[] = good.map((event, i) => {
    const out = stored.get(i) ?? (outputs[i]!.payload as ScoredEvent)
    const { json, size } = capInstance(event.payload, maxInstanceBytes)
    return {
      id: out.predictionId,
      pipeline,
      version: out.modelVersion,
      served_at: servedAt,
      prediction: out.prediction,
      instance: json,
      instance_bytes: size,
      request_key: event.key,
      label: null,
      labelled_at: null,
    }
  })
  await platform.db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += 500) {
      await trx
        .insertInto('predictions')
        .values(rows.slice(i, i + 500))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute()
    }
    await platform.log.commit(spec.topic, consumer, { expected: committed, offset: last.offset }, trx)
  })
  return { from: events[0]!.offset, to: last.offset, scored: good.length, deadLettered: letters.length, duplicates, modelVersion: predictor.version }
}

function eventIdOf(spec: ScoreSpec, event: LogEvent): string {
  if (spec.id !== undefined && typeof event.payload === 'object' && event.payload !== null) {
    const value = (event.payload as Record<string, unknown>)[spec.id]
    if (typeof value === 'string' || typeof value === 'number') return String(value)
  }
  return `${event.topic}:${event.offset}`
}

/** Payloads of `topic` at offsets `after`+1..`to` (a batch's outputs are consecutive unless retried in part). */
async function readRange(platform: Platform, topic: string, after: number, to: number): Promise<Map<number, unknown>> {
  const out = new Map<number, unknown>()
  let cursor = after
  while (cursor < to) {
    const page = await platform.log.read(topic, { after: cursor, limit: Math.min(10_000, to - cursor) })
    if (page.length === 0) break
    for (const event of page) if (event.offset <= to) out.set(event.offset, event.payload)
    cursor = page.at(-1)!.offset
  }
  return out
}

export interface StreamScoringOptions {
  /** Wait between polls of an idle topic, or while a pipeline has no production model (default 200 ms). */
  readonly pollMs?: number
  /** How often the production alias is re-read (default 1000 ms): a deploy is scored with within about that. */
  readonly refreshMs?: number
  /** A batch that failed (it is retried; nothing is committed for it). */
  readonly onError?: (pipeline: string, error: unknown) => void
  /** Each batch committed. */
  readonly onBatch?: (pipeline: string, result: ScoreBatchResult) => void
}

export interface StreamScoring {
  /** Pipelines with a `score` job. */
  readonly pipelines: readonly string[]
  /** Stops after the batch in progress (which commits or rolls back whole). */
  stop(): Promise<void>
}

/**
 * Starts one scoring loop per pipeline that declares `score` in its config. Each loop scores its topic in batches
 * with the pipeline's production model (re-read as serving does, so a deploy or rollback takes effect), and waits
 * while there is no production model: events are kept in the topic (they count in its backlog), never skipped.
 */
export function startStreamScoring(platform: Platform, options: StreamScoringOptions = {}): StreamScoring {
  const pollMs = options.pollMs ?? 200
  const onError = options.onError ?? (() => undefined)
  const cache = new ModelCache(platform.registry, platform.config.root, options.refreshMs ?? 1000, onError)
  const jobs = Object.entries(platform.config.config.pipelines ?? {}).flatMap(([name, spec]) => (spec.score === undefined ? [] : [{ name, spec: spec.score }]))
  const controller = new AbortController()
  const sleepers = new Set<() => void>()
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (controller.signal.aborted) return resolve()
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        sleepers.delete(done)
        resolve()
      }
      sleepers.add(done)
    })
  const loops = jobs.map(async ({ name, spec }) => {
    while (!controller.signal.aborted) {
      try {
        const predictor = await cache.production(name)
        const result = await scoreBatch(platform, name, spec, predictor)
        if (result !== undefined) {
          options.onBatch?.(name, result)
          continue
        }
      } catch (error) {
        if (!isFreshetError(error, 'MODEL_NOT_FOUND') && !isFreshetError(error, 'OFFSET_CONFLICT')) onError(name, error)
      }
      await pause(pollMs)
    }
  })
  return {
    pipelines: jobs.map((j) => j.name),
    async stop() {
      controller.abort()
      for (const done of [...sleepers]) done()
      await Promise.all(loops)
    },
  }
}

/** @throws FreshetError `USAGE` when the pipeline has no `score` job. */
export function scoreSpecOf(platform: Platform, pipeline: string): ScoreSpec {
  const spec = platform.config.config.pipelines?.[pipeline]?.score
  if (spec === undefined) throw new FreshetError('USAGE', `pipeline ${pipeline} has no score job`, { hint: "add score: { topic: 'events', output: 'events.scored' } to the pipeline" })
  return spec
}
