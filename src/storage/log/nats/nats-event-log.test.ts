import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPlatform } from '../../../app/platform.js'
import { configFromObject } from '../../../config/load.js'
import {
  deleteNatsStreams,
  natsServerUrl,
  natsSkipReason,
  testNatsPrefix,
} from '../../../../test/support/nats.js'
import { createTestDatabase, postgresSkipReason } from '../../../../test/support/postgres.js'
import type { MetadataDb } from '../../metadata/database.js'
import { openPostgresMetadata } from '../../metadata/postgres/postgres-metadata.js'
import { openSqliteMetadata } from '../../metadata/sqlite/sqlite-metadata.js'
import { describeEventLogContract, type EventLogTestOptions } from '../event-log.contract.js'
import type { ConsumeContext, LogEvent } from '../event-log.js'
import { NatsEventLog, type NatsEventLogOptions } from './nats-event-log.js'
import { durableName, topicNames } from './nats-names.js'

const skip = await natsSkipReason()
const postgresSkip = skip === undefined ? await postgresSkipReason() : skip

/** Opens logs on one NATS prefix (unique per fixture, deleted by cleanup) over `db`. */
function natsLogs(options: EventLogTestOptions & NatsEventLogOptions) {
  const prefix = testNatsPrefix()
  const opened: NatsEventLog[] = []
  const open = async (db: MetadataDb): Promise<NatsEventLog> => {
    const log = await NatsEventLog.open(natsServerUrl, db, { ...options, prefix })
    opened.push(log)
    return log
  }
  const cleanup = async (): Promise<void> => {
    await Promise.all(opened.map((log) => log.close()))
    await deleteNatsStreams(prefix)
  }
  return { prefix, open, cleanup }
}

async function sqliteFixture(options: EventLogTestOptions & NatsEventLogOptions = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-nats-log-'))
  const file = path.join(dir, 'freshet.db')
  const db = await openSqliteMetadata(file)
  const logs = natsLogs(options)
  const log = await logs.open(db)
  return {
    db,
    log,
    prefix: logs.prefix,
    // Logs of one process share the SQLite connection (see the embedded test); each has its own NATS connection.
    connect: async () => ({ log: await logs.open(db), close: () => Promise.resolve() }),
    reopen: async () => {
      const other = await openSqliteMetadata(file)
      return { log: await logs.open(other), close: () => other.destroy() }
    },
    cleanup: async () => {
      await logs.cleanup()
      await db.destroy()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

describe.skipIf(skip !== undefined)('NatsEventLog (metadata on SQLite)', () => {
  describeEventLogContract({ name: 'NATS JetStream, offsets in SQLite', create: sqliteFixture })
})

describe.skipIf(postgresSkip !== undefined)('NatsEventLog (metadata on PostgreSQL)', () => {
  describeEventLogContract({
    name: 'NATS JetStream, offsets in PostgreSQL',
    create: async (options) => {
      const database = await createTestDatabase()
      const db = await openPostgresMetadata(database.url)
      const logs = natsLogs(options)
      const other = async () => {
        const connection = await openPostgresMetadata(database.url, { maxConnections: 2 })
        return { log: await logs.open(connection), close: () => connection.destroy() }
      }
      return {
        db,
        log: await logs.open(db),
        connect: other,
        reopen: other,
        cleanup: async () => {
          await logs.cleanup()
          await db.destroy()
          await database.drop()
        },
      }
    },
  })
})

const events = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ payload: { n: from + i }, messageId: `e${from + i}` }))
const numbers = (list: readonly LogEvent[]): number[] => list.map((e) => (e.payload as { n: number }).n)

describe.skipIf(skip !== undefined)('NatsEventLog on JetStream', () => {
  let fx: Awaited<ReturnType<typeof sqliteFixture>>
  beforeEach(async () => {
    fx = await sqliteFixture({ maxDeliver: 2 })
  })
  afterEach(async () => fx.cleanup())

  async function jetStream<T>(
    fn: (tools: {
      js: ReturnType<typeof jetstream>
      jsm: Awaited<ReturnType<typeof jetstreamManager>>
    }) => Promise<T>,
  ): Promise<T> {
    const nc = await connect({ servers: natsServerUrl })
    try {
      return await fn({ js: jetstream(nc), jsm: await jetstreamManager(nc) })
    } finally {
      await nc.close()
    }
  }

  it('keeps each topic in a file-storage stream whose sequences are the offsets, acked after the commit', async () => {
    await fx.log.append('clicks.eu west', events(1, 3))
    const names = topicNames(fx.prefix, 'clicks.eu west')
    await fx.log.consume('clicks.eu west', 'sink', () => Promise.resolve(), { limit: 2 })
    await jetStream(async ({ jsm }) => {
      const stream = await jsm.streams.info(names.stream)
      expect(stream.config.storage).toBe('file')
      expect(stream.config.description).toContain('"clicks.eu west"')
      expect(stream.state).toMatchObject({ first_seq: 1, last_seq: 3, messages: 3 })
      const durable = await jsm.consumers.info(names.stream, durableName('sink'))
      expect(durable.config.ack_policy).toBe('explicit')
      // Offsets 1 and 2 were committed in our database, then acked to JetStream; 3 is still to come.
      expect(durable.ack_floor.stream_seq).toBe(2)
      expect(durable.num_ack_pending).toBe(0)
      expect(durable.num_pending).toBe(1)
    })
  })

  it('skips redeliveries at or below the committed offset after a crash between commit and ack', async () => {
    await fx.log.append('t', events(1, 5))
    const names = topicNames(fx.prefix, 't')
    // A process took 1..3 from the durable consumer, committed them in our database and died before acking.
    await fx.log.consume('t', 'sink', () => Promise.resolve(), { limit: 1 })
    await fx.log.append('t', events(6, 6))
    await jetStream(async ({ js }) => {
      const durable = await js.consumers.get(names.stream, durableName('sink'))
      const taken = await durable.fetch({ max_messages: 2, expires: 2_000 })
      for await (const m of taken) m.nak() // gone without an ack: JetStream hands them out again
    })
    await fx.db.transaction().execute((trx) => fx.log.commit('t', 'sink', { expected: 1, offset: 3 }, trx))

    const seen: number[][] = []
    const handle = (batch: LogEvent[]) => Promise.resolve(void seen.push(numbers(batch)))
    expect(await fx.log.consume('t', 'sink', handle, { limit: 10 })).toMatchObject({
      from: 4,
      to: 6,
      events: 3,
    })
    expect(await fx.log.consume('t', 'sink', handle, { limit: 10 })).toBeUndefined()
    expect(seen).toEqual([[4, 5, 6]])
    expect(await fx.log.committed('t', 'sink')).toBe(6)
  })

  it('sends an event its handler keeps failing on to the dead-letter stream and moves past it', async () => {
    await fx.log.append('t', events(1, 3))
    const seen: number[][] = []
    const handle = async (batch: LogEvent[], { trx }: ConsumeContext) => {
      seen.push(numbers(batch))
      for (const n of numbers(batch))
        await trx
          .insertInto('datasets')
          .values({ name: `n${n}`, created_at: new Date(0).toISOString() })
          .execute()
      if (numbers(batch).includes(2)) throw new Error('cannot handle event 2')
      return batch.length
    }
    await expect(fx.log.consume('t', 'sink', handle, { limit: 10 })).rejects.toThrow('cannot handle event 2')
    // Second delivery (maxDeliver 2): events go one at a time, so the failure is pinned on its own event.
    expect(await fx.log.consume('t', 'sink', handle, { limit: 10 })).toMatchObject({ from: 1, to: 1 })
    await expect(fx.log.consume('t', 'sink', handle, { limit: 10 })).rejects.toThrow('cannot handle event 2')
    expect(await fx.log.committed('t', 'sink')).toBe(2)
    expect(await fx.log.consume('t', 'sink', handle, { limit: 10 })).toMatchObject({ from: 3, to: 3 })
    expect(await fx.log.consume('t', 'sink', handle, { limit: 10 })).toBeUndefined()
    expect(seen).toEqual([[1, 2, 3], [1], [2], [3]])
    const names = (await fx.db.selectFrom('datasets').select('name').orderBy('name').execute()).map(
      (r) => r.name,
    )
    expect(names).toEqual(['n1', 'n3'])
    const dead = await jetStream(({ jsm }) =>
      jsm.streams.getMessage(topicNames(fx.prefix, 't').deadLetterStream, { seq: 1 }),
    )
    expect(dead?.json()).toMatchObject({
      topic: 't',
      consumer: 'sink',
      offset: 2,
      // Delivered with the first batch, with the second (fetched, not handed over: event 1 went alone) and alone.
      deliveries: 3,
      error: 'cannot handle event 2',
      event: { payload: { n: 2 }, messageId: 'e2' },
    })
  })

  it('answers BACKEND_UNAVAILABLE when no server answers', async () => {
    await expect(NatsEventLog.open('nats://127.0.0.1:1', fx.db)).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
    })
  })
})

describe('backend.log configuration', () => {
  it('accepts embedded or a nats:// server, and refuses anything else when the config loads', () => {
    const dir = os.tmpdir()
    expect(configFromObject({ backend: { log: 'nats://10.0.0.5:4222' } }, dir).config.backend?.log).toBe(
      'nats://10.0.0.5:4222',
    )
    expect(() => configFromObject({ backend: { log: 'kafka://10.0.0.5:9092' } }, dir)).toThrow(
      "expected 'embedded' or a server nats://host:4222",
    )
  })

  it.skipIf(skip !== undefined)('opens the NATS adapter when backend.log names a server', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-nats-platform-'))
    const topic = `platform-${randomBytes(6).toString('hex')}`
    const platform = await openPlatform(configFromObject({ backend: { log: natsServerUrl } }, dir))
    try {
      expect(platform.log).toBeInstanceOf(NatsEventLog)
      expect((await platform.log.append(topic, events(1, 2))).offsets).toEqual([1, 2])
      const stream = await jetStreamInfo(topicNames('freshet', topic).stream)
      expect(stream).toMatchObject({ messages: 2, last_seq: 2 })
    } finally {
      await platform.close()
      await deleteStream(topicNames('freshet', topic).stream)
      await rm(dir, { recursive: true, force: true })
    }
  })
})

async function jetStreamInfo(stream: string) {
  const nc = await connect({ servers: natsServerUrl })
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state
  } finally {
    await nc.close()
  }
}

async function deleteStream(stream: string): Promise<void> {
  const nc = await connect({ servers: natsServerUrl })
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false)
  } finally {
    await nc.close()
  }
}
