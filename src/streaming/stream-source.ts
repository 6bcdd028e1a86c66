import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import type { Platform } from '../app/platform.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { datasetSpecOf } from '../data/datasets.js'
import { ingestFile } from '../data/ingest.js'
import { batchIdOf } from '../data/record-batch.js'
import type { LogEvent, LogTransaction } from '../storage/log/event-log.js'
import type { StreamEventTable, StreamVersionTable } from '../storage/metadata/database.js'
import { topicSpecOf } from './topics.js'
import { WindowAggregator, arrivalOf, watermarkOf, windowStartOf, type Arrival, type StreamSpec } from './windows.js'

/** Events read from the topic per transaction, and event rows read per page when a window is written out. */
const consumeLimit = 1000
const pageSize = 2000
/** The embedded log has one partition per topic. */
const partition = 0
const defaultDropAfter = '7d'

/** Where events too late for any correction of their window are set aside, with the reason. */
export const tooLateTopic = (topic: string): string => `${topic}.too-late`
/** The durable consumer a streamed dataset reads its topic with. */
export const streamConsumer = (dataset: string): string => `stream:${dataset}`

/** The batch id of version `version` of a window: derived from (topic, window, partition, version), never from bytes. */
export const windowBatchId = (dataset: string, topic: string, windowStart: number, version: number): string =>
  batchIdOf(dataset, `stream:${topic}:${new Date(windowStart).toISOString()}:p${partition}:v${version}`)

interface Settings {
  readonly dataset: string
  readonly spec: StreamSpec
  readonly eventTime: string
  readonly size: number
  readonly lateness: number
  readonly dropAfter: number
}

/** The datasets with a `stream` section. */
export function streamedDatasets(platform: Platform): string[] {
  return Object.entries(platform.config.config.datasets ?? {})
    .filter(([, spec]) => spec.stream !== undefined)
    .map(([name]) => name)
}

function settingsOf(platform: Platform, dataset: string): Settings {
  const spec = datasetSpecOf(platform.config, dataset)
  const stream = spec.stream
  if (stream === undefined)
    throw new FreshetError('USAGE', `dataset ${dataset} has no stream source`, { hint: `add stream: { topic, window } to dataset ${dataset}` })
  const topic = topicSpecOf(platform.config, stream.topic)
  const eventTime = spec.eventTime
  if (eventTime === undefined || topic.schema[eventTime] !== 'timestamp') {
    throw new FreshetError(
      'CONFIG_INVALID',
      `dataset ${dataset} streams topic ${stream.topic}, so its eventTime must name a timestamp field of the topic (got ${JSON.stringify(eventTime ?? null)})`,
      { hint: `fields of topic ${stream.topic}: ${Object.entries(topic.schema).map(([f, t]) => `${f} (${t})`).join(', ')}` },
    )
  }
  return {
    dataset,
    spec: stream,
    eventTime,
    size: parseDuration(stream.window),
    lateness: stream.allowedLateness === undefined ? 0 : parseDuration(stream.allowedLateness),
    dropAfter: parseDuration(stream.dropAfter ?? defaultDropAfter),
  }
}

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * Consumes the next events of the topic in one metadata transaction: stores each in its window (or as too late),
 * advances the watermark, opens a version (pending batch) for every window the watermark closed and for every
 * closed window that got late events, and commits the consumer's offset — all or nothing.
 */
async function consumeOnce(platform: Platform, s: Settings): Promise<number> {
  const result = await platform.log.consume(
    s.spec.topic,
    streamConsumer(s.dataset),
    async (events, { trx }) => {
      await assign(trx, s, events)
      return events.length
    },
    { limit: consumeLimit },
  )
  return result?.events ?? 0
}

async function assign(trx: LogTransaction, s: Settings, events: LogEvent[]): Promise<void> {
  const now = new Date().toISOString()
  const state = await trx.selectFrom('stream_state').selectAll().where('dataset', '=', s.dataset).executeTakeFirst()
  let maxEvent = state?.max_event_ms === null || state === undefined ? null : Number(state.max_event_ms)
  let watermark = state?.watermark_ms === null || state === undefined ? null : Number(state.watermark_ms)
  const rows: StreamEventTable[] = []
  const touched = new Map<number, Record<Arrival, number>>()
  for (const event of events) {
    const payload = event.payload as Record<string, unknown>
    const eventMs = Date.parse(String(payload[s.eventTime]))
    // The topic's schema makes the field a timestamp; an event published before that was declared is set aside.
    const start = Number.isFinite(eventMs) ? windowStartOf(eventMs, s.size) : 0
    const kind: Arrival = Number.isFinite(eventMs) ? arrivalOf(start, s.size, watermark, s.dropAfter) : 'too-late'
    const reason =
      kind !== 'too-late'
        ? undefined
        : Number.isFinite(eventMs)
          ? `window ${iso(start)} ended ${iso(start + s.size)}, more than dropAfter ${s.spec.dropAfter ?? defaultDropAfter} before the watermark ${iso(watermark ?? 0)}`
          : `field ${s.eventTime} is not a timestamp`
    rows.push({
      dataset: s.dataset,
      event_offset: event.offset,
      window_start: start,
      kind,
      payload: JSON.stringify(
        reason === undefined
          ? payload
          : { dataset: s.dataset, topic: s.spec.topic, offset: event.offset, window: iso(start), reason, event: payload },
      ),
    })
    const counts = touched.get(start) ?? { 'on-time': 0, late: 0, 'too-late': 0 }
    counts[kind] += 1
    touched.set(start, counts)
    if (Number.isFinite(eventMs) && (maxEvent === null || eventMs > maxEvent)) {
      maxEvent = eventMs
      watermark = watermarkOf(eventMs, s.lateness)
    }
  }
  for (let i = 0; i < rows.length; i += 200) await trx.insertInto('stream_events').values(rows.slice(i, i + 200)).execute()
  const stateRow = { topic: s.spec.topic, max_event_ms: maxEvent, watermark_ms: watermark, updated_at: now }
  if (state === undefined) await trx.insertInto('stream_state').values({ dataset: s.dataset, ...stateRow }).execute()
  else await trx.updateTable('stream_state').set(stateRow).where('dataset', '=', s.dataset).execute()

  const lateWindows: number[] = []
  for (const [start, counts] of touched) {
    const existing = await trx.selectFrom('stream_windows').select(['on_time', 'late', 'too_late']).where('dataset', '=', s.dataset).where('window_start', '=', start).executeTakeFirst()
    if (existing === undefined) {
      await trx
        .insertInto('stream_windows')
        .values({ dataset: s.dataset, window_start: start, on_time: counts['on-time'], late: counts.late, too_late: counts['too-late'], closed: 0, versions: 0, through_offset: 0, updated_at: now })
        .execute()
    } else {
      await trx
        .updateTable('stream_windows')
        .set({ on_time: Number(existing.on_time) + counts['on-time'], late: Number(existing.late) + counts.late, too_late: Number(existing.too_late) + counts['too-late'], updated_at: now })
        .where('dataset', '=', s.dataset)
        .where('window_start', '=', start)
        .execute()
    }
    if (counts.late > 0) lateWindows.push(start)
  }
  if (watermark === null) return
  const last = (events.at(-1) as LogEvent).offset
  // Windows the watermark has passed that still hold events no version has: the first batch of a window that just
  // closed, or a correction of one that got late events.
  const due = await trx
    .selectFrom('stream_windows')
    .selectAll()
    .where('dataset', '=', s.dataset)
    .where('window_start', '<=', watermark - s.size)
    .where((eb) => (lateWindows.length === 0 ? eb('closed', '=', 0) : eb.or([eb('closed', '=', 0), eb('window_start', 'in', lateWindows)])))
    .execute()
  for (const w of due) {
    const start = Number(w.window_start)
    const versions = Number(w.versions)
    const holdsEvents = Number(w.on_time) + Number(w.late) > 0 && (versions === 0 || lateWindows.includes(start))
    if (holdsEvents) {
      const version = versions + 1
      await trx
        .insertInto('stream_versions')
        .values({
          dataset: s.dataset,
          window_start: start,
          version,
          from_offset: Number(w.through_offset),
          through_offset: last,
          batch_id: windowBatchId(s.dataset, s.spec.topic, start, version),
          state: 'pending',
          rows: null,
          batch_state: null,
          error: null,
          created_at: now,
          sealed_at: null,
        })
        .execute()
    }
    await trx
      .updateTable('stream_windows')
      .set({ closed: 1, ...(holdsEvents ? { versions: versions + 1, through_offset: last } : {}), updated_at: now })
      .where('dataset', '=', s.dataset)
      .where('window_start', '=', start)
      .execute()
  }
}

/** Writes a window version's rows as JSON Lines, reading its events page by page. Answers the rows written. */
async function writeWindowFile(platform: Platform, s: Settings, v: StreamVersionTable, file: string): Promise<number> {
  const out = createWriteStream(file)
  const write = (line: string) => (out.write(line) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())))
  const aggregator = s.spec.aggregate === undefined ? undefined : new WindowAggregator(s.spec.aggregate)
  // Raw events: the version's own events; aggregates: the whole window up to this version, recomputed.
  let after = aggregator === undefined ? Number(v.from_offset) : 0
  let rows = 0
  try {
    for (;;) {
      const page = await platform.db
        .selectFrom('stream_events')
        .select(['event_offset', 'payload'])
        .where('dataset', '=', s.dataset)
        .where('window_start', '=', Number(v.window_start))
        .where('kind', '!=', 'too-late')
        .where('event_offset', '>', after)
        .where('event_offset', '<=', Number(v.through_offset))
        .orderBy('event_offset')
        .limit(pageSize)
        .execute()
      for (const row of page) {
        if (aggregator === undefined) {
          await write(`${row.payload}\n`)
          rows += 1
        } else {
          const event = JSON.parse(row.payload) as Record<string, unknown>
          aggregator.add(event, Date.parse(String(event[s.eventTime])), Number(row.event_offset))
        }
      }
      if (page.length < pageSize) break
      after = Number((page.at(-1) as { event_offset: number }).event_offset)
    }
    if (aggregator !== undefined) {
      const start = Number(v.window_start)
      for (const row of aggregator.rows()) {
        await write(`${JSON.stringify({ [s.eventTime]: iso(start), window_start: iso(start), window_end: iso(start + s.size), ...row })}\n`)
        rows += 1
      }
    }
  } finally {
    out.end()
    await finished(out)
  }
  return rows
}

/**
 * Turns a pending window version into its batch through the same ingest (validation, quarantine, statistics) as a
 * file. The batch id is the version's, so a version whose batch was recorded before a crash is not ingested again;
 * the version is then marked sealed (and, raw, its events deleted) in one transaction.
 */
async function sealVersion(platform: Platform, s: Settings, v: StreamVersionTable, scratch: string): Promise<void> {
  const version = Number(v.version)
  const start = Number(v.window_start)
  let batch = await platform.db.selectFrom('batches').select(['id', 'state', 'row_count']).where('id', '=', v.batch_id).executeTakeFirst()
  let error: string | null = null
  if (batch === undefined) {
    const name = `${s.spec.topic}@${iso(start).replace(/[:.]/g, '-')}-p${partition}-v${version}.jsonl`
    const file = path.join(scratch, name)
    await writeWindowFile(platform, s, v, file)
    const parentId = version === 1 ? undefined : windowBatchId(s.dataset, s.spec.topic, start, version - 1)
    const parent = parentId === undefined ? undefined : await platform.db.selectFrom('batches').select('id').where('id', '=', parentId).executeTakeFirst()
    try {
      const result = await ingestFile(platform, s.dataset, file, { displayName: name, batch: { id: v.batch_id, ...(parent === undefined ? {} : { parentId: parent.id }) } })
      if (result.batch.id !== v.batch_id) error = `its rows are byte for byte those of batch ${result.batch.id}, so no new batch was made`
      else batch = { id: result.batch.id, state: result.batch.state, row_count: result.batch.rows }
    } catch (failure) {
      if (!isFreshetError(failure)) throw failure
      error = `${failure.code}: ${failure.message}`
    } finally {
      await rm(file, { force: true })
    }
  }
  const now = new Date().toISOString()
  await platform.db.transaction().execute(async (trx) => {
    // Only a version still pending: another process (`freshet up` on the same database) may have sealed it meanwhile
    // and deleted its events, in which case what this one read (an empty window, INPUT_EMPTY) must not overwrite it.
    const updated = await trx
      .updateTable('stream_versions')
      .set({ state: error === null ? 'sealed' : 'failed', rows: batch === undefined ? null : Number(batch.row_count), batch_state: batch?.state ?? null, error, sealed_at: now })
      .where('dataset', '=', s.dataset)
      .where('window_start', '=', start)
      .where('version', '=', version)
      .where('state', '=', 'pending')
      .executeTakeFirst()
    if (error !== null || Number(updated.numUpdatedRows) === 0) return
    if (s.spec.aggregate === undefined) {
      await trx.deleteFrom('stream_events').where('dataset', '=', s.dataset).where('window_start', '=', start).where('kind', '!=', 'too-late').where('event_offset', '<=', Number(v.through_offset)).execute()
    } else if (version > 1) {
      // The recomputed window replaces the version before it, which is kept (discarded) for audit.
      const previous = windowBatchId(s.dataset, s.spec.topic, start, version - 1)
      const updated = await trx.updateTable('batches').set({ state: 'discarded' }).where('id', '=', previous).where('state', '=', 'accepted').executeTakeFirst()
      if (Number(updated.numUpdatedRows) > 0) {
        await trx.insertInto('quarantine_actions').values({ id: randomUUID(), batch_id: previous, action: 'discard', actor: 'stream', reason: `superseded by correction v${version} (${v.batch_id})`, at: now }).execute()
      }
    }
  })
}

/** Sets too-late events aside in `<topic>.too-late` (message ids make a repeat after a crash store nothing twice). */
async function forwardTooLate(platform: Platform, s: Settings): Promise<number> {
  const rows = await platform.db.selectFrom('stream_events').select(['event_offset', 'payload']).where('dataset', '=', s.dataset).where('kind', '=', 'too-late').orderBy('event_offset').limit(consumeLimit).execute()
  if (rows.length === 0) return 0
  await platform.log.append(tooLateTopic(s.spec.topic), rows.map((r) => ({ payload: JSON.parse(r.payload) as unknown, messageId: `${s.dataset}#${Number(r.event_offset)}` })))
  const offsets = rows.map((r) => Number(r.event_offset))
  await platform.db.deleteFrom('stream_events').where('dataset', '=', s.dataset).where('kind', '=', 'too-late').where('event_offset', 'in', offsets).execute()
  return rows.length
}

/** Aggregates: events of windows the watermark is past `dropAfter` of can no longer change anything. */
async function forgetSettled(platform: Platform, s: Settings): Promise<void> {
  if (s.spec.aggregate === undefined) return
  const state = await platform.db.selectFrom('stream_state').select('watermark_ms').where('dataset', '=', s.dataset).executeTakeFirst()
  if (state?.watermark_ms === null || state === undefined) return
  const before = Number(state.watermark_ms) - s.dropAfter - s.size
  const pending = platform.db.selectFrom('stream_versions').select('window_start').where('dataset', '=', s.dataset).where('state', '=', 'pending')
  await platform.db.deleteFrom('stream_events').where('dataset', '=', s.dataset).where('kind', '!=', 'too-late').where('window_start', '<', before).where('window_start', 'not in', pending).execute()
}

export interface StreamStep {
  readonly dataset: string
  /** Events read from the topic and committed. */
  readonly consumed: number
  /** Window versions turned into batches (or failed with a reason). */
  readonly sealed: { readonly windowStart: string; readonly version: number; readonly batchId: string; readonly state: string }[]
  /** Events set aside in `<topic>.too-late`. */
  readonly tooLate: number
}

/**
 * One round of a streamed dataset: consume the next events (committed with their windows), seal every pending
 * window version as a batch, set too-late events aside. Safe to repeat after a crash at any point.
 */
export async function stepStream(platform: Platform, dataset: string): Promise<StreamStep> {
  const s = settingsOf(platform, dataset)
  const consumed = await consumeOnce(platform, s)
  const pending = await platform.db.selectFrom('stream_versions').selectAll().where('dataset', '=', dataset).where('state', '=', 'pending').orderBy('window_start').orderBy('version').execute()
  const sealed: StreamStep['sealed'][number][] = []
  if (pending.length > 0) {
    const tmpRoot = path.join(platform.config.stateDir, 'tmp')
    await mkdir(tmpRoot, { recursive: true })
    const scratch = await mkdtemp(path.join(tmpRoot, 'stream-'))
    try {
      for (const v of pending) {
        await sealVersion(platform, s, v, scratch)
        const after = await platform.db.selectFrom('stream_versions').select(['state', 'batch_state']).where('dataset', '=', dataset).where('window_start', '=', v.window_start).where('version', '=', v.version).executeTakeFirstOrThrow()
        sealed.push({ windowStart: iso(Number(v.window_start)), version: Number(v.version), batchId: v.batch_id, state: after.state === 'sealed' ? (after.batch_state ?? 'sealed') : after.state })
      }
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
  }
  const tooLate = await forwardTooLate(platform, s)
  await forgetSettled(platform, s)
  return { dataset, consumed, sealed, tooLate }
}

/** Runs {@link stepStream} until nothing is waiting. */
export async function drainStream(platform: Platform, dataset: string): Promise<StreamStep[]> {
  const steps: StreamStep[] = []
  for (;;) {
    const step = await stepStream(platform, dataset)
    steps.push(step)
    if (step.consumed === 0 && step.sealed.length === 0 && step.tooLate === 0) return steps
  }
}

export type StreamNotice =
  | { readonly type: 'step'; readonly step: StreamStep }
  | { readonly type: 'error'; readonly dataset: string; readonly error: unknown }

export interface RunningStreams {
  readonly datasets: readonly string[]
  stop(): Promise<void>
}

/**
 * Starts one consumer loop per streamed dataset (checking each one's config first). A loop works while events or
 * pending windows wait and sleeps `idleMs` (default 250) when there are none; an error is reported and retried
 * after `retryMs` (default 2000). `stop` finishes the current round and resolves.
 * @throws FreshetError `CONFIG_INVALID` / `TOPIC_NOT_FOUND` for a stream whose topic or event time does not fit.
 */
export function startStreams(platform: Platform, options: { onNotice?: (notice: StreamNotice) => void; idleMs?: number; retryMs?: number } = {}): RunningStreams {
  const datasets = streamedDatasets(platform)
  for (const dataset of datasets) settingsOf(platform, dataset)
  const stopping = new AbortController()
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping.signal.aborted) return resolve()
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        stopping.signal.removeEventListener('abort', done)
        resolve()
      }
      stopping.signal.addEventListener('abort', done)
    })
  const loop = async (dataset: string) => {
    while (!stopping.signal.aborted) {
      try {
        const step = await stepStream(platform, dataset)
        const worked = step.consumed > 0 || step.sealed.length > 0 || step.tooLate > 0
        if (worked) options.onNotice?.({ type: 'step', step })
        else await sleep(options.idleMs ?? 250)
      } catch (error) {
        options.onNotice?.({ type: 'error', dataset, error })
        await sleep(options.retryMs ?? 2000)
      }
    }
  }
  const loops = datasets.map((d) => loop(d))
  return {
    datasets,
    async stop() {
      stopping.abort()
      await Promise.all(loops)
    },
  }
}

/** What `GET /api/v1/streams/{dataset}` shows: event-time progress, arrival counts and each recent window's batches. */
export interface StreamStatus {
  readonly dataset: string
  readonly topic: string
  readonly window: string
  readonly mode: 'events' | 'aggregates'
  readonly watermark: string | null
  readonly maxEventTime: string | null
  readonly consumer: { readonly committed: number; readonly lag: number }
  readonly totals: { readonly onTime: number; readonly late: number; readonly tooLate: number; readonly pendingVersions: number }
  readonly tooLateTopic: string
  /** The latest windows (at most `limit`), newest first. */
  readonly windows: {
    readonly start: string
    readonly end: string
    readonly onTime: number
    readonly late: number
    readonly tooLate: number
    readonly closed: boolean
    readonly versions: { readonly version: number; readonly batchId: string; readonly state: string; readonly rows: number | null; readonly batchState: string | null; readonly error: string | null }[]
  }[]
}

export async function streamStatus(platform: Platform, dataset: string, limit = 50): Promise<StreamStatus> {
  const s = settingsOf(platform, dataset)
  const state = await platform.db.selectFrom('stream_state').selectAll().where('dataset', '=', dataset).executeTakeFirst()
  const totals = await platform.db
    .selectFrom('stream_windows')
    .select((eb) => [eb.fn.sum<number>('on_time').as('on_time'), eb.fn.sum<number>('late').as('late'), eb.fn.sum<number>('too_late').as('too_late')])
    .where('dataset', '=', dataset)
    .executeTakeFirst()
  const pending = await platform.db.selectFrom('stream_versions').select((eb) => eb.fn.countAll<number>().as('n')).where('dataset', '=', dataset).where('state', '=', 'pending').executeTakeFirst()
  const windows = await platform.db.selectFrom('stream_windows').selectAll().where('dataset', '=', dataset).orderBy('window_start', 'desc').limit(limit).execute()
  const starts = windows.map((w) => Number(w.window_start))
  const versions = starts.length === 0 ? [] : await platform.db.selectFrom('stream_versions').selectAll().where('dataset', '=', dataset).where('window_start', 'in', starts).orderBy('version').execute()
  const info = await platform.log.info(s.spec.topic)
  const committed = await platform.log.committed(s.spec.topic, streamConsumer(dataset))
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? null : iso(Number(v)))
  return {
    dataset,
    topic: s.spec.topic,
    window: s.spec.window,
    mode: s.spec.aggregate === undefined ? 'events' : 'aggregates',
    watermark: ms(state?.watermark_ms),
    maxEventTime: ms(state?.max_event_ms),
    consumer: { committed, lag: Math.max(0, (info?.lastOffset ?? 0) - committed) },
    totals: { onTime: Number(totals?.on_time ?? 0), late: Number(totals?.late ?? 0), tooLate: Number(totals?.too_late ?? 0), pendingVersions: Number(pending?.n ?? 0) },
    tooLateTopic: tooLateTopic(s.spec.topic),
    windows: windows.map((w) => ({
      start: iso(Number(w.window_start)),
      end: iso(Number(w.window_start) + s.size),
      onTime: Number(w.on_time),
      late: Number(w.late),
      tooLate: Number(w.too_late),
      closed: Number(w.closed) === 1,
      versions: versions
        .filter((v) => Number(v.window_start) === Number(w.window_start))
        .map((v) => ({ version: Number(v.version), batchId: v.batch_id, state: v.state, rows: v.rows === null ? null : Number(v.rows), batchState: v.batch_state, error: v.error })),
    })),
  }
}
