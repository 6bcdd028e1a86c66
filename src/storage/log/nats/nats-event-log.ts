import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type PubAck,
} from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { FreshetError } from '../../../core/errors.js'
import { commitOffset, committedOffset } from '../consumer-offsets.js'
import type { MetadataDb } from '../../metadata/database.js'
import { lockForWrite } from '../../metadata/write-locks.js'
import {
  checkName,
  consumerLock,
  encode,
  floor,
  offsetArg,
  positiveArg,
  topicLock,
} from '../embedded/event-rows.js'
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
import {
  consumerNotFound,
  isApiError,
  message,
  publishBatch,
  storedIds,
  streamNotFound,
  unavailable,
} from './nats-append.js'
import { contiguous, fetchAfter } from './nats-consume.js'
import { checkPrefix, durableName, topicNames, unwrap, type TopicNames } from './nats-names.js'

export interface NatsEventLogOptions {
  readonly limits?: Partial<EventLogLimits>
  readonly topicLimits?: (topic: string) => Partial<EventLogLimits> | undefined
  readonly now?: () => Date
  /** First part of every stream and subject name (default `freshet`): deployments sharing a server differ here. */
  readonly prefix?: string
  /** How long JetStream waits for an ack before it redelivers (default 30 s); handlers are kept alive meanwhile. */
  readonly ackWaitMs?: number
  /**
   * Deliveries of an event after which a handler failing on it alone sends it to the topic's dead-letter stream
   * (subject `<prefix>.dead-letter.<hash>`) and the consumer moves past it (default 5).
   */
  readonly maxDeliver?: number
}

interface StreamState {
  readonly first: number
  readonly last: number
  readonly messages: number
}

/**
 * {@link EventLog} on NATS JetStream: one file-storage stream per topic, whose sequences are the offsets.
 *
 * - Appends of a topic go one at a time under a lock in the metadata database (JetStream 2.9 has no atomic
 *   multi-message publish; the lock gives each append consecutive offsets and an exact backlog check). Each message
 *   carries `Nats-Msg-Id` and the expected last sequence, so a writer outside the lock fails instead of
 *   interleaving; a batch that fails part-way has what it stored deleted again, and the append throws.
 * - Message ids: the event's subject ends with its id, so a retried id is found by the stream's subject index for
 *   as long as the event is retained (JetStream's own `Nats-Msg-Id` window, 2 minutes, is the second guard).
 * - Backlog: `OVERLOADED` is decided from the stream's last sequence and the slowest committed offset in the
 *   metadata database, as in the embedded log. A stream `max_msgs` limit would count retained events, not
 *   un-consumed ones, and would discard or refuse per message rather than per append, so none is set.
 * - Consumers: a durable pull consumer per named consumer, explicit acks. The committed offset is the row in
 *   `event_log_consumers`; `consume` fetches from the durable consumer, skips (and acks) deliveries at or below the
 *   committed offset, runs the handler and the commit in one metadata transaction, keeps the messages alive with
 *   in-progress acks meanwhile, and acks only after that transaction committed (naks on failure). When JetStream
 *   cannot hand over the next offsets (still pending after another process crashed), it reads them from the stream.
 */
export class NatsEventLog implements EventLog {
  private readonly now: () => Date
  private readonly defaults: EventLogLimits
  private readonly topicLimits: (topic: string) => Partial<EventLogLimits> | undefined
  private readonly prefix: string
  private readonly ackWaitMs: number
  private readonly maxDeliver: number
  private readonly streams = new Set<string>()
  private readonly durables = new Map<string, Consumer>()

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly db: MetadataDb,
    options: NatsEventLogOptions,
  ) {
    this.now = options.now ?? (() => new Date())
    this.defaults = { ...defaultEventLogLimits, ...options.limits }
    this.topicLimits = options.topicLimits ?? (() => undefined)
    this.prefix = checkPrefix(options.prefix ?? 'freshet')
    this.ackWaitMs = options.ackWaitMs ?? 30_000
    this.maxDeliver = options.maxDeliver ?? 5
  }

  /**
   * Connects to the server at `url` (`nats://host:4222`); the consumers' offsets live in `db`.
   * @throws FreshetError `BACKEND_UNAVAILABLE` when the server does not answer or has no JetStream.
   */
  static async open(url: string, db: MetadataDb, options: NatsEventLogOptions = {}): Promise<NatsEventLog> {
    let nc: NatsConnection
    try {
      nc = await connect({ servers: url, name: 'freshet', timeout: 10_000 })
    } catch (error) {
      throw new FreshetError('BACKEND_UNAVAILABLE', `NATS at ${url} is not answering: ${message(error)}`, {
        cause: error,
        hint: 'start nats-server with JetStream (-js), or fix backend.log in freshet.config',
      })
    }
    try {
      const jsm = await jetstreamManager(nc)
      return new NatsEventLog(nc, jetstream(nc), jsm, db, options)
    } catch (error) {
      await nc.close()
      throw new FreshetError('BACKEND_UNAVAILABLE', `NATS at ${url} has no JetStream: ${message(error)}`, {
        cause: error,
        hint: 'start nats-server with -js',
      })
    }
  }

  private limitsOf(topic: string): EventLogLimits {
    return { ...this.defaults, ...this.topicLimits(topic) }
  }

  private names(topic: string): TopicNames {
    return topicNames(this.prefix, topic)
  }

  private async state(topic: string): Promise<StreamState | undefined> {
    try {
      const info = await this.jsm.streams.info(this.names(topic).stream)
      const { first_seq: first, last_seq: last, messages } = info.state
      // A new stream reports first_seq 0; an emptied one last_seq + 1. Offsets start at 1 and are never reused.
      return { first: messages === 0 ? last + 1 : first, last, messages }
    } catch (error) {
      if (isApiError(error, streamNotFound)) return undefined
      throw unavailable(`reading topic ${topic}`, error)
    }
  }

  private async ensureStream(topic: string, deadLetter = false): Promise<void> {
    const names = this.names(topic)
    const name = deadLetter ? names.deadLetterStream : names.stream
    if (this.streams.has(name)) return
    // Adding a stream with the same configuration again is a no-op, so processes racing here all succeed.
    await this.jsm.streams.add({
      name,
      subjects: [deadLetter ? names.deadLetterSubject : names.subjects],
      description: `freshet topic ${deadLetter ? 'dead letters ' : ''}${JSON.stringify(topic)}`,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: 120_000_000_000,
    })
    this.streams.add(name)
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
    const appendedAt = this.now().toISOString()
    const rows = events.map((event, i) => ({ ...encode(topic, event, i), appendedAt }))
    const names = this.names(topic)
    await this.ensureStream(topic)

    return this.db.transaction().execute(async (trx) => {
      // SQLite: a write takes the database's write lock (a statement that writes takes it even when it changes no
      // row). PostgreSQL: an advisory lock. Either way appends of a topic go one after the other.
      await trx
        .updateTable('event_log_consumers')
        .set({ topic })
        .where('topic', '=', topic)
        .where('name', '=', '')
        .execute()
      await lockForWrite(trx, { key: `nats-${topicLock(topic)}` })
      const state = (await this.state(topic)) ?? { first: 1, last: 0, messages: 0 }
      const stored = await storedIds(this.jsm, names, rows)
      // Offsets of stored events; a fresh event's is known once JetStream acknowledged it (-1 - index in `fresh`).
      const planned: number[] = []
      const fresh: (typeof rows)[number][] = []
      const inBatch = new Map<string, number>()
      for (const row of rows) {
        const known =
          row.message_id === null ? undefined : (stored.get(row.message_id) ?? inBatch.get(row.message_id))
        if (known !== undefined) {
          planned.push(known)
          continue
        }
        if (row.message_id !== null) inBatch.set(row.message_id, -1 - fresh.length)
        planned.push(-1 - fresh.length)
        fresh.push(row)
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
      let acks: PubAck[] = []
      if (fresh.length > 0) {
        const backlog = state.last - (await floor(trx, topic, state.first - 1))
        if (backlog + fresh.length > limits.maxBacklog)
          throw backlogFull(topic, backlog, fresh.length, limits.maxBacklog)
        acks = await publishBatch(this.js, this.jsm, topic, names, fresh, state.last)
      }
      const offsets = planned.map((o) => (o >= 0 ? o : (acks[-1 - o]?.seq ?? 0)))
      const appended = acks.filter((ack) => !ack.duplicate).length
      return { offsets, appended, duplicates: rows.length - appended }
    })
  }

  async read(
    topic: string,
    options: { readonly after: number; readonly limit: number },
  ): Promise<LogEvent[]> {
    checkName('topic', topic)
    const after = offsetArg('after', options.after)
    const limit = Math.min(positiveArg('limit', options.limit), this.limitsOf(topic).maxBatch)
    const state = await this.state(topic)
    if (state === undefined) return []
    return this.readStream(topic, state, after, limit)
  }

  private async readStream(
    topic: string,
    state: StreamState,
    after: number,
    limit: number,
  ): Promise<LogEvent[]> {
    const want = Math.min(limit, state.last - Math.max(after, state.first - 1))
    if (want <= 0) return []
    const ordered = await this.js.consumers.get(this.names(topic).stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(after + 1, state.first),
    })
    const found: LogEvent[] = []
    const messages = await ordered.fetch({ max_messages: want, expires: 5_000 })
    for await (const m of messages) {
      found.push(unwrap(topic, m.seq, m.string()))
      // Deleted sequences leave holes: stop at the last one rather than wait for messages that never come.
      if (m.seq >= state.last || found.length >= want) break
    }
    await messages.close()
    return found
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
    const last = (await this.state(topic))?.last ?? 0
    await commitOffset(trx, { topic, consumer, ...position, lastOffset: last, at: this.now() })
  }


  private async durable(topic: string, consumer: string): Promise<Consumer> {
    const key = JSON.stringify([topic, consumer])
    const known = this.durables.get(key)
    if (known !== undefined) return known
    const { stream } = this.names(topic)
    const name = durableName(consumer)
    await this.jsm.consumers.add(stream, {
      durable_name: name,
      description: `freshet consumer ${JSON.stringify(consumer)}`,
      ack_policy: AckPolicy.Explicit,
      ack_wait: this.ackWaitMs * 1_000_000,
      deliver_policy: DeliverPolicy.All,
      // Unlimited on the server: the adapter counts deliveries itself and dead-letters (see `maxDeliver`), so that
      // an event JetStream would stop delivering cannot block the consumer's ordered offsets.
      max_deliver: -1,
      max_ack_pending: this.defaults.maxBatch * 2,
    })
    const handle = await this.js.consumers.get(stream, name)
    this.durables.set(key, handle)
    return handle
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
    const limit = Math.min(options.limit, this.limitsOf(topic).maxBatch)
    const at = this.now().toISOString()
    const exists = (await this.state(topic)) !== undefined
    const durable = exists ? await this.durable(topic, consumer) : undefined
    let held: JsMsg[] = []
    let poison: { event: LogEvent; deliveries: number; committed: number } | undefined
    let handlerFailed = false
    try {
      const done = await this.db.transaction().execute(async (trx) => {
        // Registers the consumer; as a write it also takes SQLite's write lock, so consumers of one name go in turn.
        await trx
          .insertInto('event_log_consumers')
          .values({ topic, name: consumer, committed_offset: 0, created_at: at, updated_at: at })
          .onConflict((oc) => oc.columns(['topic', 'name']).doNothing())
          .execute()
        await lockForWrite(trx, { key: consumerLock(topic, consumer) })
        const committed = await this.committed(topic, consumer, trx)
        const state = await this.state(topic)
        if (durable === undefined || state === undefined) return undefined
        const start = Math.max(committed, state.first - 1)
        const want = Math.min(limit, state.last - start)
        if (want <= 0) return undefined
        held = await fetchAfter(durable, want, committed)
        let events = contiguous(topic, held, start)
        if (events.length === 0) events = await this.readStream(topic, state, start, want)
        const first = events[0]
        if (first === undefined) return undefined
        const deliveries = held.find((m) => m.seq === first.offset)?.info.deliveryCount ?? 0
        if (deliveries >= this.maxDeliver) {
          // Handed over that often: alone, so that a failure here is this event's own.
          events = [first]
          poison = { event: first, deliveries, committed }
        }
        const keepAlive = setInterval(
          () => held.forEach((m) => m.working()),
          Math.max(this.ackWaitMs / 3, 100),
        )
        let result: T
        try {
          result = await handler(events, { trx, committed })
        } catch (error) {
          handlerFailed = true
          throw error
        } finally {
          clearInterval(keepAlive)
        }
        const last = events.at(-1) ?? first
        await this.commit(topic, consumer, { expected: committed, offset: last.offset }, trx)
        return { from: first.offset, to: last.offset, events: events.length, result }
      })
      // Committed: JetStream may forget these now (a lost ack only costs a redelivery, which is skipped). Anything
      // fetched beyond the batch comes again promptly.
      for (const m of held) {
        if (done !== undefined && m.seq <= done.to) m.ack()
        else m.nak()
      }
      // The server has the acks once the flush returns; a failure only costs redeliveries, which are skipped.
      await this.nc.flush().catch(() => undefined)
      return done
    } catch (error) {
      for (const m of held) m.nak()
      if (handlerFailed && poison !== undefined) await this.deadLetter(topic, consumer, poison, error)
      throw error
    }
  }

  /** Sends an event its handler failed on `maxDeliver` times to the dead-letter stream and moves past it. */
  private async deadLetter(
    topic: string,
    consumer: string,
    poison: { event: LogEvent; deliveries: number; committed: number },
    error: unknown,
  ): Promise<void> {
    const names = this.names(topic)
    await this.ensureStream(topic, true)
    const { event } = poison
    await this.js.publish(
      names.deadLetterSubject,
      JSON.stringify({
        topic,
        consumer,
        offset: event.offset,
        deliveries: poison.deliveries,
        error: message(error),
        event,
      }),
      { msgID: `${consumer}#${event.offset}` },
    )
    await this.db
      .transaction()
      .execute((trx) =>
        this.commit(topic, consumer, { expected: poison.committed, offset: event.offset }, trx),
      )
      .catch((conflict: unknown) => {
        // Another process moved the consumer on meanwhile: nothing left to skip.
        if (!(conflict instanceof FreshetError && conflict.code === 'OFFSET_CONFLICT')) throw conflict
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
    this.durables.delete(JSON.stringify([topic, consumer]))
    await this.jsm.consumers
      .delete(this.names(topic).stream, durableName(consumer))
      .catch((error: unknown) => {
        if (!isApiError(error, consumerNotFound) && !isApiError(error, streamNotFound))
          throw unavailable(`removing consumer ${consumer}`, error)
      })
  }

  async info(topic: string): Promise<TopicInfo | undefined> {
    checkName('topic', topic)
    const state = await this.state(topic)
    // A stream whose first append was refused holds nothing: the topic exists from its first stored event.
    if (state === undefined || state.last === 0) return undefined
    const consumers = await this.db
      .selectFrom('event_log_consumers')
      .select(['name', 'committed_offset'])
      .where('topic', '=', topic)
      .orderBy('name')
      .execute()
    const trimmed = state.first - 1
    const committed = consumers.map((c) => Number(c.committed_offset))
    const floorOffset = committed.length === 0 ? trimmed : Math.max(trimmed, Math.min(...committed))
    return {
      topic,
      firstOffset: state.first,
      lastOffset: state.last,
      events: state.messages,
      backlog: state.last - floorOffset,
      maxBacklog: this.limitsOf(topic).maxBacklog,
      consumers: consumers.map((c) => ({
        name: c.name,
        committed: Number(c.committed_offset),
        lag: state.last - Math.max(trimmed, Number(c.committed_offset)),
      })),
    }
  }

  async trim(topic: string, options: { readonly before: Date }): Promise<number> {
    checkName('topic', topic)
    const state = await this.state(topic)
    if (state === undefined) return 0
    const slowest = await this.db
      .selectFrom('event_log_consumers')
      .select((eb) => eb.fn.min('committed_offset').as('offset'))
      .where('topic', '=', topic)
      .executeTakeFirst()
    const bound =
      slowest?.offset === null || slowest?.offset === undefined ? state.last : Number(slowest.offset)
    // Trimming removes a prefix (so `firstOffset` stays exact): the events older than `before`, up to the bound.
    let cut = state.first - 1
    const page = this.limitsOf(topic).maxBatch
    for (let more = true; more && cut < bound;) {
      const events = await this.readStream(topic, state, cut, Math.min(page, bound - cut))
      more = events.length > 0
      for (const event of events) {
        if (event.appendedAt >= options.before || event.offset > bound) {
          more = false
          break
        }
        cut = event.offset
      }
    }
    if (cut < state.first) return 0
    const purged = await this.jsm.streams.purge(this.names(topic).stream, { seq: cut + 1 })
    return purged.purged
  }

  async close(): Promise<void> {
    await this.nc.drain()
  }
}
