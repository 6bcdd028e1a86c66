import type { Transaction } from 'kysely'
import { FreshetError } from '../../core/errors.js'
import type { Database } from '../metadata/database.js'

/** An event to append. `payload` is any JSON value. */
export interface NewEvent {
  readonly payload: unknown
  /** Partitioning / grouping key (a topic's `key` field), kept with the event. */
  readonly key?: string
  /**
   * The producer's id for this event (like NATS `Nats-Msg-Id`): appending an id the topic already holds appends
   * nothing and answers the offset of the event stored first, so a producer can retry a batch safely.
   */
  readonly messageId?: string
}

/** An event as stored: offsets are 1, 2, 3… per topic, in append order, never reused. */
export interface LogEvent {
  readonly topic: string
  readonly offset: number
  readonly payload: unknown
  readonly key: string | null
  readonly messageId: string | null
  readonly appendedAt: Date
}

export interface AppendResult {
  /** One offset per event given, in order; a duplicate (by message id) has the offset of the stored event. */
  readonly offsets: number[]
  /** Events stored by this append. */
  readonly appended: number
  /** Events that were already stored under their message id (or repeated one earlier in the batch). */
  readonly duplicates: number
}

/** A durable named consumer and how far it is. */
export interface ConsumerInfo {
  readonly name: string
  /** Every event at or below this offset is done (0: nothing yet). */
  readonly committed: number
  /** Events after `committed`. */
  readonly lag: number
}

export interface TopicInfo {
  readonly topic: string
  /** Offset of the oldest retained event; `lastOffset + 1` when none is retained. */
  readonly firstOffset: number
  /** Offset of the latest event (0 before the first). */
  readonly lastOffset: number
  /** Events retained. */
  readonly events: number
  /** Events not yet consumed: after the slowest consumer's commit, or every retained event when none exists. */
  readonly backlog: number
  /** Appends that would take the backlog past this are refused with `OVERLOADED`. */
  readonly maxBacklog: number
  readonly consumers: ConsumerInfo[]
}

/** Bounds of one topic (promise 9). */
export interface EventLogLimits {
  /** Most un-consumed events a topic holds; an append past it is refused with `OVERLOADED` (default 100 000). */
  readonly maxBacklog: number
  /** Most events in one append, and in one read (default 10 000). */
  readonly maxBatch: number
}

export const defaultEventLogLimits: EventLogLimits = { maxBacklog: 100_000, maxBatch: 10_000 }

/**
 * A transaction on the metadata database. A consumer's committed offset lives in the metadata database with every
 * adapter, so it commits or rolls back together with the consumer's own writes.
 */
export type LogTransaction = Transaction<Database>

export interface LogOptions {
  readonly signal?: AbortSignal
}

/** What a consume handler gets besides the events. */
export interface ConsumeContext {
  /** The metadata transaction: the handler's writes and the offset commit go in it, all or nothing. */
  readonly trx: LogTransaction
  /** The consumer's committed offset before this batch. */
  readonly committed: number
}

export interface ConsumeResult<T> {
  /** Offsets consumed: `from`..`to`, both included; `to` is the new committed offset. */
  readonly from: number
  readonly to: number
  readonly events: number
  /** What the handler returned. */
  readonly result: T
}

/**
 * Append-only topics of JSON events, with per-topic offsets and durable named consumers: the event log of
 * DESIGN.md §4 (embedded: tables in the metadata database; distributed: NATS JetStream).
 *
 * Contract (checked by `describeEventLogContract`):
 * - An append is all-or-nothing and durable once it resolves; its events get consecutive offsets after the
 *   topic's last one. A topic exists from its first append. Appends of one topic never interleave.
 * - Dedup: an event whose message id the topic already holds is not stored again; its offset is the stored one.
 *   (Embedded: for as long as the first event is retained. JetStream: within the stream's duplicate window, which
 *   is why consumers also skip offsets at or below their committed offset, see below.)
 * - `read(topic, { after })` answers events with offsets above `after`, in offset order, at most `limit`.
 * - A consumer's committed offset is stored in the metadata database and written only inside a metadata transaction
 *   (`commit` with the caller's `trx`, or `consume`), so a handler's writes and the offset commit together: after a
 *   crash the consumer resumes exactly after what it committed, and what it wrote is neither lost nor doubled.
 *   Commits are compare-and-swap (`expected`), so two processes running the same consumer cannot both commit a batch.
 * - Bounds: an append with more than `maxBatch` events is refused (`INPUT_TOO_LARGE`); an append that would take
 *   the backlog (events after the slowest consumer's commit, or all retained events when there is no consumer) past
 *   `maxBacklog` is refused whole with `OVERLOADED` (HTTP 429), and nothing of it is stored. Reads are capped at
 *   `maxBatch`, so memory stays bounded however far a consumer lags.
 * - Trimming (retention) never removes an event that a consumer has not committed.
 *
 * How an adapter whose log lives outside the metadata database (NATS JetStream) keeps this: the committed offset
 * (the stream sequence) is a row in the metadata database like here; `consume` fetches after that row's value,
 * runs the handler and the commit in one metadata transaction, and acknowledges the messages to JetStream only
 * after that transaction committed. A crash between commit and ack redelivers messages at or below the committed
 * offset, which are skipped; a crash before the commit redelivers the batch, whose writes were rolled back. The
 * database is the record of truth, JetStream acks only save redelivery.
 *
 * @example
 * await platform.log.append('clicks', [{ payload: { user: 'u1', at: '2030-01-01T00:00:00Z' }, messageId: 'req-1#0' }])
 * await platform.log.consume('clicks', 'windows', async (events, { trx }) => {
 *   await writeBatch(trx, events) // committed together with the new offset, or not at all
 * }, { limit: 1000 })
 */
export interface EventLog {
  /**
   * Appends `events` to `topic`, creating the topic on first use.
   * @throws FreshetError `OVERLOADED` when the backlog would pass `maxBacklog` (nothing stored; retry later),
   * `INPUT_TOO_LARGE` for more than `maxBatch` events or more new events than `maxBacklog` (which could never fit),
   * `USAGE` for a payload that is not JSON.
   */
  append(topic: string, events: readonly NewEvent[], options?: LogOptions): Promise<AppendResult>
  /** Events after offset `after`, in offset order, at most `limit` (capped at `maxBatch`). */
  read(
    topic: string,
    options: { readonly after: number; readonly limit: number; readonly trx?: LogTransaction },
  ): Promise<LogEvent[]>
  /** The consumer's committed offset (0 for a consumer that never committed). */
  committed(topic: string, consumer: string, trx?: LogTransaction): Promise<number>
  /**
   * Sets the consumer's committed offset from `expected` to `offset` inside the caller's metadata transaction, so it
   * commits only together with the caller's writes. Creates the consumer when `expected` is 0 and there is none.
   * @throws FreshetError `OFFSET_CONFLICT` when the committed offset is not `expected` (another process moved it:
   * roll back), `USAGE` when `offset` is not after `expected` or beyond the topic's last offset.
   */
  commit(
    topic: string,
    consumer: string,
    position: { readonly expected: number; readonly offset: number },
    trx: LogTransaction,
  ): Promise<void>
  /**
   * Reads the next events after the consumer's committed offset (at most `limit`) and runs `handler` with them in
   * one metadata transaction that also commits the offset of the last one. Consumers of the same name wait for
   * each other, so each batch is handled once. Answers undefined (and runs nothing) when no event is waiting; the
   * consumer is registered either way, so its backlog counts from then on. The handler must use `context.trx` for
   * every metadata query: one outside it would wait for it (on SQLite, forever).
   * @throws whatever `handler` throws; then nothing it wrote and no offset is committed.
   */
  consume<T>(
    topic: string,
    consumer: string,
    handler: (events: LogEvent[], context: ConsumeContext) => Promise<T>,
    options: { readonly limit: number },
  ): Promise<ConsumeResult<T> | undefined>
  /** Forgets a consumer, so it no longer holds back the backlog. */
  removeConsumer(topic: string, consumer: string): Promise<void>
  /** Offsets, backlog and consumers of a topic; undefined for a topic never appended to. */
  info(topic: string): Promise<TopicInfo | undefined>
  /**
   * Removes events appended before `before` that every consumer has committed. Answers how many were removed.
   */
  trim(topic: string, options: { readonly before: Date }): Promise<number>
  /** Releases resources (not the metadata database, which the caller owns). */
  close(): Promise<void>
}

/** The `OVERLOADED` error of an append refused for the backlog bound. */
export function backlogFull(
  topic: string,
  backlog: number,
  adding: number,
  maxBacklog: number,
): FreshetError {
  return new FreshetError(
    'OVERLOADED',
    `topic ${topic} holds ${backlog} un-consumed events (limit ${maxBacklog}): the append of ${adding} was refused, nothing of it was stored`,
    {
      hint: `retry after the consumers have caught up, or raise maxBacklog of topic ${topic}`,
    },
  )
}
