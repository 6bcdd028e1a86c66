import { FreshetError } from '../../../core/errors.js'
import { commitOffset, committedOffset } from '../consumer-offsets.js'
import type { EventLogEventTable, MetadataDb } from '../../metadata/database.js'
import { lockForWrite } from '../../metadata/write-locks.js'
import {
  checkName,
  chunk,
  consumerLock,
  decode,
  encode,
  floor,
  offsetArg,
  positiveArg,
  topicLock,
  topicRow,
} from './event-rows.js'
import {
  backlogFull,
  defaultEventLogLimits,
  type AppendResult,
  type ConsumeContext,
  type ConsumeResult,
  type EventLog,
  type EventLogLimits,
  type LogEvent,
  type LogTransaction,
  type NewEvent,
  type TopicInfo,
} from '../event-log.js'

export interface EmbeddedEventLogOptions {
  /** Limits of every topic, then per topic (a function, so that topics need no registration). */
  readonly limits?: Partial<EventLogLimits>
  readonly topicLimits?: (topic: string) => Partial<EventLogLimits> | undefined
  readonly now?: () => Date
}

/**
 * {@link EventLog} in the metadata database (SQLite or PostgreSQL) through Kysely, in portable SQL. The log's
 * tables sit beside the consumers' own, so `consume` commits a handler's writes and its offset in one transaction.
 *
 * Appends of a topic take the topic's row (SQLite: the database write lock, taken by the append's first statement;
 * PostgreSQL: a transaction-scoped advisory lock), so offsets are handed out in commit order and a reader never
 * sees offset n+1 before n. Consumers of one name likewise take their own lock for the whole `consume`.
 */
export class EmbeddedEventLog implements EventLog {
  private readonly now: () => Date
  private readonly defaults: EventLogLimits
  private readonly topicLimits: (topic: string) => Partial<EventLogLimits> | undefined

  constructor(
    private readonly db: MetadataDb,
    options: EmbeddedEventLogOptions = {},
  ) {
    this.now = options.now ?? (() => new Date())
    this.defaults = { ...defaultEventLogLimits, ...options.limits }
    this.topicLimits = options.topicLimits ?? (() => undefined)
  }

  private limitsOf(topic: string): EventLogLimits {
    return { ...this.defaults, ...this.topicLimits(topic) }
  }

  async append(topic: string, events: readonly NewEvent[]): Promise<AppendResult> {
    checkName('topic', topic)
    const limits = this.limitsOf(topic)
    if (events.length > limits.maxBatch) {
      throw new FreshetError(
        'INPUT_TOO_LARGE',
        `an append to topic ${topic} holds ${events.length} events, more than the ${limits.maxBatch} allowed at once`,
        { hint: `append in batches of at most ${limits.maxBatch} events` },
      )
    }
    if (events.length === 0) return { offsets: [], appended: 0, duplicates: 0 }
    const rows = events.map((event, i) => encode(topic, event, i))
    const at = this.now().toISOString()

    return this.db.transaction().execute(async (trx) => {
      // A write first: on SQLite it takes the database's write lock for the whole append.
      await trx
        .insertInto('event_log_topics')
        .values({ topic, last_offset: 0, trimmed_offset: 0, created_at: at })
        .onConflict((oc) => oc.column('topic').doNothing())
        .execute()
      await lockForWrite(trx, { key: topicLock(topic) })
      const state = await topicRow(trx, topic)

      const stored = await this.storedIds(trx, topic, rows)
      const offsets: number[] = []
      const fresh: EventLogEventTable[] = []
      let next = state.last_offset
      for (const row of rows) {
        const known = row.message_id === null ? undefined : stored.get(row.message_id)
        if (known !== undefined) {
          offsets.push(known)
          continue
        }
        next += 1
        if (row.message_id !== null) stored.set(row.message_id, next)
        offsets.push(next)
        fresh.push({ ...row, event_offset: next, appended_at: at })
      }
      if (fresh.length > limits.maxBacklog) {
        throw new FreshetError(
          'INPUT_TOO_LARGE',
          `an append of ${fresh.length} events to topic ${topic} is larger than its whole backlog bound (${limits.maxBacklog}): it could never be accepted`,
          {
            hint: `append in batches of at most ${limits.maxBacklog} events, or raise maxBacklog of topic ${topic}`,
          },
        )
      }
      if (fresh.length > 0) {
        const backlog = state.last_offset - (await floor(trx, topic, state.trimmed_offset))
        if (backlog + fresh.length > limits.maxBacklog)
          throw backlogFull(topic, backlog, fresh.length, limits.maxBacklog)
        await trx
          .updateTable('event_log_topics')
          .set({ last_offset: next })
          .where('topic', '=', topic)
          .execute()
        for (let i = 0; i < fresh.length; i += chunk) {
          await trx
            .insertInto('event_log_events')
            .values(fresh.slice(i, i + chunk))
            .execute()
        }
      }
      return { offsets, appended: fresh.length, duplicates: rows.length - fresh.length }
    })
  }

  /** Offsets of the batch's message ids that the topic already holds. */
  private async storedIds(
    trx: LogTransaction,
    topic: string,
    rows: readonly Pick<EventLogEventTable, 'message_id'>[],
  ): Promise<Map<string, number>> {
    const ids = [...new Set(rows.flatMap((r) => (r.message_id === null ? [] : [r.message_id])))]
    const stored = new Map<string, number>()
    for (let i = 0; i < ids.length; i += chunk) {
      const found = await trx
        .selectFrom('event_log_events')
        .select(['message_id', 'event_offset'])
        .where('topic', '=', topic)
        .where('message_id', 'in', ids.slice(i, i + chunk))
        .execute()
      for (const row of found)
        if (row.message_id !== null) stored.set(row.message_id, Number(row.event_offset))
    }
    return stored
  }

  async read(
    topic: string,
    options: { readonly after: number; readonly limit: number; readonly trx?: LogTransaction },
  ): Promise<LogEvent[]> {
    checkName('topic', topic)
    const after = offsetArg('after', options.after)
    const limit = Math.min(positiveArg('limit', options.limit), this.limitsOf(topic).maxBatch)
    const rows = await (options.trx ?? this.db)
      .selectFrom('event_log_events')
      .selectAll()
      .where('topic', '=', topic)
      .where('event_offset', '>', after)
      .orderBy('event_offset')
      .limit(limit)
      .execute()
    return rows.map(decode)
  }

  async committed(topic: string, consumer: string, trx?: LogTransaction): Promise<number> {
    checkName('topic', topic)
    checkName('consumer', consumer)
    return committedOffset(trx ?? this.db, topic, consumer)
  }


  async commit(
    topic: string,
    consumer: string,
    position: { readonly expected: number; readonly offset: number },
    trx: LogTransaction,
  ): Promise<void> {
    checkName('topic', topic)
    checkName('consumer', consumer)
    const last = (await trx.selectFrom('event_log_topics').select('last_offset').where('topic', '=', topic).executeTakeFirst())?.last_offset
    await commitOffset(trx, { topic, consumer, ...position, lastOffset: Number(last ?? 0), at: this.now() })
  }


  async consume<T>(
    topic: string,
    consumer: string,
    handler: (events: LogEvent[], context: ConsumeContext) => Promise<T>,
    options: { readonly limit: number },
  ): Promise<ConsumeResult<T> | undefined> {
    checkName('topic', topic)
    checkName('consumer', consumer)
    positiveArg('limit', options.limit)
    const at = this.now().toISOString()
    return this.db.transaction().execute(async (trx) => {
      // Registers the consumer; as a write it also takes SQLite's write lock, so consumers of one name go in turn.
      await trx
        .insertInto('event_log_consumers')
        .values({ topic, name: consumer, committed_offset: 0, created_at: at, updated_at: at })
        .onConflict((oc) => oc.columns(['topic', 'name']).doNothing())
        .execute()
      await lockForWrite(trx, { key: consumerLock(topic, consumer) })
      const committed = await this.committed(topic, consumer, trx)
      const events = await this.read(topic, { after: committed, limit: options.limit, trx })
      const last = events.at(-1)
      if (last === undefined) return undefined
      const result = await handler(events, { trx, committed })
      await this.commit(topic, consumer, { expected: committed, offset: last.offset }, trx)
      return { from: events[0]?.offset ?? last.offset, to: last.offset, events: events.length, result }
    })
  }

  async removeConsumer(topic: string, consumer: string): Promise<void> {
    checkName('topic', topic)
    checkName('consumer', consumer)
    await this.db
      .deleteFrom('event_log_consumers')
      .where('topic', '=', topic)
      .where('name', '=', consumer)
      .execute()
  }

  async info(topic: string): Promise<TopicInfo | undefined> {
    checkName('topic', topic)
    const state = await this.db
      .selectFrom('event_log_topics')
      .selectAll()
      .where('topic', '=', topic)
      .executeTakeFirst()
    if (state === undefined) return undefined
    const last = Number(state.last_offset)
    const trimmed = Number(state.trimmed_offset)
    const consumers = await this.db
      .selectFrom('event_log_consumers')
      .select(['name', 'committed_offset'])
      .where('topic', '=', topic)
      .orderBy('name')
      .execute()
    const committed = consumers.map((c) => Number(c.committed_offset))
    const floorOffset = committed.length === 0 ? trimmed : Math.max(trimmed, Math.min(...committed))
    return {
      topic,
      firstOffset: trimmed + 1,
      lastOffset: last,
      events: last - trimmed,
      backlog: last - floorOffset,
      maxBacklog: this.limitsOf(topic).maxBacklog,
      consumers: consumers.map((c) => ({
        name: c.name,
        committed: Number(c.committed_offset),
        lag: last - Math.max(trimmed, Number(c.committed_offset)),
      })),
    }
  }

  async trim(topic: string, options: { readonly before: Date }): Promise<number> {
    checkName('topic', topic)
    const before = options.before.toISOString()
    return this.db.transaction().execute(async (trx) => {
      // A write first, for SQLite's write lock; then the same lock as appends on PostgreSQL.
      const touched = await trx
        .updateTable('event_log_topics')
        .set((eb) => ({ trimmed_offset: eb.ref('trimmed_offset') }))
        .where('topic', '=', topic)
        .executeTakeFirst()
      if (Number(touched.numUpdatedRows) === 0) return 0
      await lockForWrite(trx, { key: topicLock(topic) })
      const state = await topicRow(trx, topic)
      // Trimming removes a prefix (so `firstOffset` stays exact), and never past a consumer's commit.
      const old = await trx
        .selectFrom('event_log_events')
        .select((eb) => eb.fn.max('event_offset').as('offset'))
        .where('topic', '=', topic)
        .where('appended_at', '<', before)
        .executeTakeFirst()
      const consumers = await trx
        .selectFrom('event_log_consumers')
        .select((eb) => eb.fn.min('committed_offset').as('offset'))
        .where('topic', '=', topic)
        .executeTakeFirst()
      let cut = Number(old?.offset ?? 0)
      if (consumers?.offset !== null && consumers?.offset !== undefined)
        cut = Math.min(cut, Number(consumers.offset))
      if (cut <= state.trimmed_offset) return 0
      const deleted = await trx
        .deleteFrom('event_log_events')
        .where('topic', '=', topic)
        .where('event_offset', '<=', cut)
        .executeTakeFirst()
      await trx
        .updateTable('event_log_topics')
        .set({ trimmed_offset: cut })
        .where('topic', '=', topic)
        .execute()
      return Number(deleted.numDeletedRows)
    })
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
