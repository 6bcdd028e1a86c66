import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isFreshetError } from '../../core/errors.js'
import type { MetadataDb } from '../metadata/database.js'
import type { ConsumeContext, EventLog, EventLogLimits, LogEvent, NewEvent } from './event-log.js'

/** What every adapter accepts, so the suite can set bounds and drive time. */
export interface EventLogTestOptions {
  readonly limits?: Partial<EventLogLimits>
  readonly now?: () => Date
}

export interface EventLogFixture {
  /** The metadata database the consumers write to. */
  readonly db: MetadataDb
  readonly log: EventLog
  /** Another log with the same options over its own connection to the same stores: another process. */
  readonly connect: () => Promise<{ log: EventLog; close: () => Promise<void> }>
  /** A new log over new connections to the same stores, as after a restart (the first one stays idle meanwhile). */
  readonly reopen: () => Promise<{ log: EventLog; close: () => Promise<void> }>
  readonly cleanup: () => Promise<void>
}

export interface EventLogContractOptions {
  readonly name: string
  /** A log over fresh, empty stores (a migrated metadata database), built with `options`. */
  readonly create: (options: EventLogTestOptions) => Promise<EventLogFixture>
}

const start = Date.parse('2030-01-01T00:00:00.000Z')
const at = (ms: number): Date => new Date(start + ms)
const events = (from: number, to: number, prefix = 'e'): NewEvent[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    payload: { n: from + i },
    messageId: `${prefix}${from + i}`,
  }))
const nothing = (): Promise<void> => Promise.resolve()
const numbers = (list: readonly LogEvent[]): number[] => list.map((e) => (e.payload as { n: number }).n)

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => (isFreshetError(error) ? error.code : String(error)),
  )
}

/** The consumer's own table for these tests: any table works, datasets is simple. */
async function written(db: MetadataDb): Promise<string[]> {
  return (await db.selectFrom('datasets').select('name').orderBy('name').execute()).map((r) => r.name)
}

/** Runs the behaviour every `EventLog` adapter must have; call it from the adapter's test file. */
export function describeEventLogContract({ name, create }: EventLogContractOptions): void {
  describe(`EventLog contract: ${name}`, () => {
    let clock = 0
    let fx: EventLogFixture
    let log: EventLog
    const setup = async (limits?: Partial<EventLogLimits>): Promise<void> => {
      await fx.cleanup()
      fx = await create({ now: () => at(clock), ...(limits === undefined ? {} : { limits }) })
      log = fx.log
    }

    beforeEach(async () => {
      clock = 0
      fx = await create({ now: () => at(clock) })
      log = fx.log
    })
    afterEach(async () => fx.cleanup())

    it('hands out consecutive offsets per topic and reads them back in order from any offset', async () => {
      expect(await log.info('clicks')).toBeUndefined()
      expect(await log.append('clicks', events(1, 3))).toEqual({
        offsets: [1, 2, 3],
        appended: 3,
        duplicates: 0,
      })
      expect((await log.append('views', events(1, 2))).offsets).toEqual([1, 2])
      expect((await log.append('clicks', [{ payload: 'plain', key: 'k1' }])).offsets).toEqual([4])
      const all = await log.read('clicks', { after: 0, limit: 100 })
      expect(all.map((e) => e.offset)).toEqual([1, 2, 3, 4])
      expect(all[3]).toMatchObject({
        topic: 'clicks',
        payload: 'plain',
        key: 'k1',
        messageId: null,
        appendedAt: at(0),
      })
      expect(numbers(await log.read('clicks', { after: 1, limit: 2 }))).toEqual([2, 3])
      expect(await log.read('clicks', { after: 4, limit: 10 })).toEqual([])
      expect(await log.read('never', { after: 0, limit: 10 })).toEqual([])
      expect(await log.info('clicks')).toMatchObject({
        firstOffset: 1,
        lastOffset: 4,
        events: 4,
        backlog: 4,
        consumers: [],
      })
    })

    it('stores an event once per message id: a retried append answers the first offsets', async () => {
      const first = await log.append('t', events(1, 3))
      const retry = await log.append('t', [
        ...events(2, 4),
        { payload: { n: 4 }, messageId: 'e4' },
        { payload: 'no id' },
        { payload: 'no id' },
      ])
      expect(retry).toEqual({ offsets: [2, 3, 4, 4, 5, 6], appended: 3, duplicates: 3 })
      expect(first.offsets).toEqual([1, 2, 3])
      const stored = await log.read('t', { after: 0, limit: 100 })
      expect(stored.map((e) => e.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, 'no id', 'no id'])
      // Ids are per topic.
      expect((await log.append('other', events(1, 1))).offsets).toEqual([1])
    })

    it('an append is all or nothing: a bad event stores none of the batch', async () => {
      await log.append('t', events(1, 1))
      expect(await codeOf(log.append('t', [...events(2, 3), { payload: 10n }]))).toBe('USAGE')
      expect(await codeOf(log.append('t', [{ payload: undefined }]))).toBe('USAGE')
      expect((await log.read('t', { after: 0, limit: 10 })).map((e) => e.offset)).toEqual([1])
      expect((await log.append('t', events(2, 2))).offsets).toEqual([2])
    })

    it('consume commits the handler writes and the offset together, or neither', async () => {
      await log.append('t', events(1, 5))
      await expect(
        log.consume(
          't',
          'sink',
          async (batch, { trx }) => {
            await trx
              .insertInto('datasets')
              .values({ name: `batch-${batch[0]?.offset}`, created_at: at(0).toISOString() })
              .execute()
            throw new Error('the sink failed')
          },
          { limit: 3 },
        ),
      ).rejects.toThrow('the sink failed')
      expect(await written(fx.db)).toEqual([])
      expect(await log.committed('t', 'sink')).toBe(0)

      const handled: number[][] = []
      const handle = async (batch: LogEvent[], { trx, committed }: ConsumeContext): Promise<number> => {
        handled.push(numbers(batch))
        await trx
          .insertInto('datasets')
          .values({ name: `batch-${committed + 1}`, created_at: at(0).toISOString() })
          .execute()
        return batch.length
      }
      expect(await log.consume('t', 'sink', handle, { limit: 3 })).toEqual({
        from: 1,
        to: 3,
        events: 3,
        result: 3,
      })
      expect(await log.consume('t', 'sink', handle, { limit: 3 })).toMatchObject({
        from: 4,
        to: 5,
        events: 2,
      })
      expect(await log.consume('t', 'sink', handle, { limit: 3 })).toBeUndefined()
      expect(handled).toEqual([
        [1, 2, 3],
        [4, 5],
      ])
      expect(await written(fx.db)).toEqual(['batch-1', 'batch-4'])
      expect(await log.committed('t', 'sink')).toBe(5)
      expect((await log.info('t'))?.consumers).toEqual([{ name: 'sink', committed: 5, lag: 0 }])
    })

    it('commit is a compare-and-swap inside the caller transaction', async () => {
      await log.append('t', events(1, 4))
      await fx.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('datasets')
          .values({ name: 'first', created_at: at(0).toISOString() })
          .execute()
        await log.commit('t', 'c', { expected: 0, offset: 2 }, trx)
      })
      expect(await log.committed('t', 'c')).toBe(2)
      // A second process that read from 0 as well must not commit: its transaction rolls back.
      const stale = fx.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('datasets')
          .values({ name: 'stale', created_at: at(0).toISOString() })
          .execute()
        await log.commit('t', 'c', { expected: 0, offset: 3 }, trx)
      })
      expect(await codeOf(stale)).toBe('OFFSET_CONFLICT')
      const backwards = fx.db
        .transaction()
        .execute((trx) => log.commit('t', 'c', { expected: 2, offset: 2 }, trx))
      expect(await codeOf(backwards)).toBe('USAGE')
      const beyond = fx.db
        .transaction()
        .execute((trx) => log.commit('t', 'c', { expected: 2, offset: 5 }, trx))
      expect(await codeOf(beyond)).toBe('USAGE')
      expect(await written(fx.db)).toEqual(['first'])
      expect(await log.committed('t', 'c')).toBe(2)
    })

    it('consumers of one name in several processes handle every event exactly once', async () => {
      const others = await Promise.all([fx.connect(), fx.connect(), fx.connect()])
      try {
        await log.append('t', events(1, 60))
        const seen: number[] = []
        const drain = async (other: EventLog): Promise<void> => {
          for (;;) {
            const done = await other.consume(
              't',
              'shared',
              async (batch, { trx }) => {
                for (const n of numbers(batch)) {
                  await trx
                    .insertInto('datasets')
                    .values({ name: `n${String(n).padStart(3, '0')}`, created_at: at(0).toISOString() })
                    .execute()
                }
                seen.push(...numbers(batch))
              },
              { limit: 7 },
            )
            if (done === undefined) return
          }
        }
        await Promise.all(others.map((o) => drain(o.log)))
        const expected = Array.from({ length: 60 }, (_, i) => i + 1)
        expect([...seen].sort((a, b) => a - b)).toEqual(expected)
        expect(await written(fx.db)).toEqual(expected.map((n) => `n${String(n).padStart(3, '0')}`))
        expect(await log.committed('t', 'shared')).toBe(60)
      } finally {
        await Promise.all(others.map((o) => o.close()))
      }
    })

    it('concurrent appenders in several processes get distinct, gapless offsets', async () => {
      const others = await Promise.all([fx.connect(), fx.connect(), fx.connect()])
      try {
        const results = await Promise.all(
          others.flatMap((o, p) =>
            Array.from({ length: 5 }, (_, b) => o.log.append('t', events(1, 4, `p${p}b${b}-`))),
          ),
        )
        const offsets = results.flatMap((r) => r.offsets).sort((a, b) => a - b)
        expect(offsets).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
        for (const r of results) expect(r.offsets).toEqual([0, 1, 2, 3].map((i) => (r.offsets[0] ?? 0) + i))
      } finally {
        await Promise.all(others.map((o) => o.close()))
      }
    })

    it('resumes where it was after a reopen: offsets, message ids and commits are durable', async () => {
      await log.append('t', events(1, 4))
      await log.consume('t', 'sink', nothing, { limit: 3 })
      const other = await fx.reopen()
      try {
        expect(await other.log.committed('t', 'sink')).toBe(3)
        expect(await other.log.append('t', [...events(4, 4), ...events(5, 5)])).toEqual({
          offsets: [4, 5],
          appended: 1,
          duplicates: 1,
        })
        const next = await other.log.consume('t', 'sink', (batch) => Promise.resolve(numbers(batch)), {
          limit: 10,
        })
        expect(next).toEqual({ from: 4, to: 5, events: 2, result: [4, 5] })
      } finally {
        await other.close()
      }
    })

    it('refuses an append past the backlog bound whole, and takes it again once the consumer caught up', async () => {
      await setup({ maxBacklog: 10, maxBatch: 6 })
      expect(await codeOf(log.append('t', events(1, 7)))).toBe('INPUT_TOO_LARGE')
      await log.append('t', events(1, 6))
      await log.append('t', events(7, 10))
      const refused = await log.append('t', events(11, 12)).catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'OVERLOADED', httpStatus: 429 })
      expect(String((refused as Error).message)).toContain('topic t holds 10 un-consumed events (limit 10)')
      expect(await log.info('t')).toMatchObject({ lastOffset: 10, backlog: 10, maxBacklog: 10 })
      // Duplicates add nothing, so a retry of what is stored is answered even when the topic is full.
      expect((await log.append('t', events(9, 10))).offsets).toEqual([9, 10])
      // A consumer that registers holds the backlog from its position; consuming makes room.
      await log.consume('t', 'sink', nothing, { limit: 4 })
      expect((await log.info('t'))?.backlog).toBe(6)
      expect(await log.append('t', events(11, 14))).toMatchObject({ offsets: [11, 12, 13, 14], appended: 4 })
      expect(await codeOf(log.append('t', events(15, 15)))).toBe('OVERLOADED')
      // Reads are capped at maxBatch.
      expect(await log.read('t', { after: 0, limit: 1000 })).toHaveLength(6)
      // The slowest consumer counts; removing it lets the faster one's position count.
      await log.consume('t', 'fast', nothing, { limit: 6 })
      await log.consume('t', 'fast', nothing, { limit: 6 })
      expect((await log.info('t'))?.backlog).toBe(10)
      await log.removeConsumer('t', 'sink')
      expect((await log.info('t'))?.backlog).toBe(2)
      expect((await log.append('t', events(15, 15))).offsets).toEqual([15])
    })

    it('refuses an append of more new events than the whole backlog bound, which could never fit', async () => {
      await setup({ maxBacklog: 3, maxBatch: 6 })
      expect(await codeOf(log.append('t', events(1, 4)))).toBe('INPUT_TOO_LARGE')
      expect(await log.read('t', { after: 0, limit: 10 })).toEqual([])
      expect((await log.append('t', events(1, 3))).offsets).toEqual([1, 2, 3])
      // Duplicates do not count: a retry of a batch of which only a part is new fits.
      await log.consume('t', 'sink', nothing, { limit: 3 })
      expect(await log.append('t', events(1, 6))).toMatchObject({
        offsets: [1, 2, 3, 4, 5, 6],
        appended: 3,
        duplicates: 3,
      })
    })

    it('trims old events only once every consumer committed them', async () => {
      await log.append('t', events(1, 3))
      clock = 60_000
      await log.append('t', events(4, 5))
      await log.consume('t', 'sink', nothing, { limit: 2 })
      clock = 120_000
      expect(await log.trim('t', { before: at(30_000) })).toBe(2)
      expect(await log.info('t')).toMatchObject({ firstOffset: 3, lastOffset: 5, events: 3, backlog: 3 })
      await log.consume('t', 'sink', nothing, { limit: 10 })
      expect(await log.trim('t', { before: at(30_000) })).toBe(1)
      expect(await log.trim('t', { before: at(30_000) })).toBe(0)
      expect((await log.read('t', { after: 0, limit: 10 })).map((e) => e.offset)).toEqual([4, 5])
      expect(await log.trim('never', { before: at(0) })).toBe(0)
      // Offsets go on after the trimmed ones; a consumer created now starts at the first retained event.
      expect((await log.append('t', events(6, 6))).offsets).toEqual([6])
      const late = await log.consume('t', 'late', (batch) => Promise.resolve(batch.map((e) => e.offset)), {
        limit: 10,
      })
      expect(late?.result).toEqual([4, 5, 6])
    })
  })
}
