import { sql } from 'kysely'
import { FreshetError } from '../core/errors.js'
import type { MetadataDb, PredictionTable } from '../storage/metadata/database.js'

export interface PredictionLogOptions {
  /** Most predictions waiting to be written; a request that would pass it is refused with 429. Default 10,000. */
  readonly maxBuffered?: number
  /** Most request bytes held by waiting predictions (their parsed instances stay in memory). Default 32 MiB. */
  readonly maxBufferedBytes?: number
  /** Write as soon as this many predictions wait (above `maxBuffered`: only on the interval). Default 1,000. */
  readonly flushRows?: number
  /** Write at most this long after the first waiting prediction arrived. Default 100 ms. */
  readonly flushIntervalMs?: number
  /** Largest instance JSON kept per prediction; longer strings in it are cut to fit. Default 16 KiB. */
  readonly maxInstanceBytes?: number
  /** The clock stamping `served_at` (tests move it). */
  readonly now?: () => Date
  /** A write that failed in the background (it is retried; nothing is dropped). */
  readonly onError?: (error: unknown) => void
}

/** One answered predict request, as the log holds it until it is written. */
interface Pending {
  readonly pipeline: string
  readonly version: number
  readonly servedAt: number
  readonly ids: readonly string[]
  readonly predictions: readonly number[]
  readonly instances: readonly unknown[]
  readonly key: string | undefined
  readonly bytes: number
}

interface Counter {
  readonly pipeline: string
  readonly version: number
  readonly minute: number
  requests: number
  errors: number
}

/** Rows per INSERT statement: well below SQLite's and PostgreSQL's bound-parameter limits. */
const rowsPerStatement = 500

/**
 * The prediction log of one server: every prediction served (id, pipeline, version, time, prediction, the raw
 * instance and the request key) and per-version request/error counts, written to the metadata database in
 * batches, in one transaction each, off the request path.
 *
 * Memory is bounded (promise 9): {@link admit} refuses with `OVERLOADED` (HTTP 429) a request whose predictions
 * would not fit in the buffer, before it is scored, so a prediction is either answered and logged or refused,
 * never answered and dropped. A failed write keeps its rows and is retried.
 */
export class PredictionLog {
  private pending: Pending[] = []
  private counters = new Map<string, Counter>()
  /** Rows and bytes not yet committed, including those of a write in progress. */
  private rows = 0
  private bytes = 0
  private writing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private readonly maxBuffered: number
  private readonly maxBufferedBytes: number
  private readonly flushRows: number
  private readonly flushIntervalMs: number
  private readonly maxInstanceBytes: number
  readonly now: () => Date
  private readonly onError: (error: unknown) => void

  constructor(
    private readonly db: MetadataDb,
    options: PredictionLogOptions = {},
  ) {
    this.maxBuffered = options.maxBuffered ?? 10_000
    this.maxBufferedBytes = options.maxBufferedBytes ?? 32 * 1024 * 1024
    this.flushRows = options.flushRows ?? 1000
    this.flushIntervalMs = options.flushIntervalMs ?? 100
    this.maxInstanceBytes = options.maxInstanceBytes ?? 16 * 1024
    this.now = options.now ?? (() => new Date())
    this.onError = options.onError ?? (() => undefined)
  }

  /** Predictions answered but not yet committed to the database. */
  get waiting(): number {
    return this.rows
  }

  /**
   * Checks that `count` more predictions (from a request of `bytes` bytes) fit. Call it before scoring and
   * {@link append} right after, with no `await` between, so nothing else can take the room.
   * @throws FreshetError `OVERLOADED` when the buffer is full or the log is closed.
   */
  admit(count: number, bytes: number): void {
    if (this.closed) throw new FreshetError('OVERLOADED', 'the server is shutting down and no longer logs predictions, so it serves none', { hint: 'retry against a running server' })
    if (this.rows + count > this.maxBuffered || (this.rows > 0 && this.bytes + bytes > this.maxBufferedBytes)) {
      throw new FreshetError('OVERLOADED', `the prediction log is full (${this.rows} predictions waiting to be written to the metadata database, at most ${this.maxBuffered}); this request was not scored, so no prediction went unlogged`, {
        hint: 'retry in a moment; if it persists, the metadata database cannot keep up with this load',
      })
    }
  }

  /** Records an answered request (after {@link admit}). `instances` are kept by reference until written. */
  append(pipeline: string, version: number, ids: readonly string[], predictions: readonly number[], instances: readonly unknown[], key: string | undefined, bytes: number): void {
    const servedAt = this.now().getTime()
    this.pending.push({ pipeline, version, servedAt, ids, predictions, instances, key, bytes })
    this.rows += ids.length
    this.bytes += bytes
    this.count(pipeline, version, false, servedAt)
    this.schedule(this.rows >= this.flushRows)
  }

  /** Counts a request a model version answered (`failed`: it refused or could not score it). */
  count(pipeline: string, version: number, failed: boolean, at = this.now().getTime()): void {
    const minute = Math.floor(at / 60_000)
    const key = `${pipeline}\u0000${version}\u0000${minute}`
    let counter = this.counters.get(key)
    if (counter === undefined) {
      counter = { pipeline, version, minute, requests: 0, errors: 0 }
      this.counters.set(key, counter)
    }
    counter.requests++
    if (failed) {
      counter.errors++
      this.schedule(false)
    }
  }

  /**
   * Writes everything waiting now (after any write in progress).
   * @throws the database error when the write fails; the rows stay waiting.
   */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing.catch(() => undefined)
    if (this.pending.length === 0 && this.counters.size === 0) return
    this.clearTimer()
    const write = this.write()
    this.writing = write
    try {
      await write
    } finally {
      this.writing = undefined
    }
    this.schedule(this.rows >= this.flushRows)
  }

  /**
   * Stops accepting predictions and writes what waits.
   * @throws FreshetError `INTERNAL` naming how many predictions could not be written.
   */
  async close(): Promise<void> {
    this.closed = true
    this.clearTimer()
    try {
      await this.flush()
    } catch (error) {
      throw new FreshetError('INTERNAL', `could not write ${this.rows} logged predictions to the metadata database on shutdown: ${(error as Error).message}`, { cause: error })
    }
  }

  private schedule(now: boolean): void {
    if (this.writing !== undefined || (this.pending.length === 0 && this.counters.size === 0)) return
    if (now) {
      this.clearTimer()
      this.timer = setTimeout(() => this.background(), 0)
    } else if (this.timer === undefined && !this.closed) {
      this.timer = setTimeout(() => this.background(), this.flushIntervalMs)
    }
    this.timer?.unref()
  }

  private background(): void {
    this.timer = undefined
    this.flush().catch((error: unknown) => {
      this.onError(error)
      // Retry later; the rows stay counted, so a database that stays down turns into 429s, not lost predictions.
      if (!this.closed && this.timer === undefined) this.timer = setTimeout(() => this.background(), this.flushIntervalMs).unref()
    })
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private async write(): Promise<void> {
    const entries = this.pending
    const counters = this.counters
    this.pending = []
    this.counters = new Map()
    let rows = 0
    let bytes = 0
    try {
      const records: PredictionTable[] = []
      for (const entry of entries) {
        rows += entry.ids.length
        bytes += entry.bytes
        const servedAt = new Date(entry.servedAt).toISOString()
        for (let i = 0; i < entry.ids.length; i++) {
          const prediction = entry.predictions[i]
          const { json, size } = capInstance(entry.instances[i], this.maxInstanceBytes)
          records.push({
            id: entry.ids[i]!,
            pipeline: entry.pipeline,
            version: entry.version,
            served_at: servedAt,
            prediction: prediction !== undefined && Number.isFinite(prediction) ? prediction : null,
            instance: json,
            instance_bytes: size,
            request_key: entry.key ?? null,
            label: null,
            labelled_at: null,
          })
        }
      }
      await this.db.transaction().execute(async (trx) => {
        for (let start = 0; start < records.length; start += rowsPerStatement) {
          await trx
            .insertInto('predictions')
            .values(records.slice(start, start + rowsPerStatement))
            .onConflict((oc) => oc.column('id').doNothing())
            .execute()
        }
        for (const c of counters.values()) {
          await trx
            .insertInto('serving_counts')
            .values({ pipeline: c.pipeline, version: c.version, minute: minuteKey(c.minute), requests: c.requests, errors: c.errors })
            .onConflict((oc) =>
              oc.columns(['pipeline', 'version', 'minute']).doUpdateSet({
                requests: sql<number>`serving_counts.requests + excluded.requests`,
                errors: sql<number>`serving_counts.errors + excluded.errors`,
              }),
            )
            .execute()
        }
      })
      this.rows -= rows
      this.bytes -= bytes
    } catch (error) {
      this.pending = entries.concat(this.pending)
      for (const [key, c] of counters) {
        const later = this.counters.get(key)
        if (later === undefined) this.counters.set(key, c)
        else {
          later.requests += c.requests
          later.errors += c.errors
        }
      }
      throw error
    }
  }
}

/** `YYYY-MM-DDTHH:MM` of a minute number (minutes since the epoch). */
export function minuteKey(minute: number): string {
  return new Date(minute * 60_000).toISOString().slice(0, 16)
}

/**
 * The instance's JSON when it fits in `max` bytes; otherwise the JSON with every long string cut (ending in `…`)
 * so it fits, or null when even that does not fit. `size` is the full JSON's size in bytes.
 */
export function capInstance(instance: unknown, max: number): { json: string | null; size: number } {
  const json = JSON.stringify(instance) ?? 'null'
  const size = Buffer.byteLength(json)
  if (size <= max) return { json, size }
  if (instance === null || typeof instance !== 'object' || Array.isArray(instance)) return { json: null, size }
  const fields = Object.entries(instance as Record<string, unknown>)
  const budget = Math.max(16, Math.floor(max / (4 * Math.max(1, fields.length))))
  const cut = Object.fromEntries(fields.map(([k, v]) => [k, typeof v === 'string' && v.length > budget ? `${v.slice(0, budget)}…` : v]))
  const shorter = JSON.stringify(cut)
  return { json: Buffer.byteLength(shorter) <= max ? shorter : null, size }
}
