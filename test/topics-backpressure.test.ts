import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import type { Platform } from '../src/app/platform.js'
import { buildServer } from '../src/server/app.js'
import type { PublishResult } from '../src/streaming/topics.js'
import { tempPlatform } from './support/workspace.js'

let platform: Platform
let dispose: () => Promise<void>
let app: FastifyInstance
const token = 'a-test-token-that-is-long-enough'
const maxBacklog = 300

beforeAll(async () => {
  ;({ platform, dispose } = await tempPlatform({
    topics: { ticks: { schema: { n: 'number' }, maxBacklog } },
  }))
  app = await buildServer(platform, { token })
})
afterAll(async () => {
  await app.close()
  await dispose()
})

describe('back-pressure on a topic', () => {
  it('a producer that outruns its consumer gets 429 beyond the backlog bound; nothing accepted is lost or doubled', async () => {
    const total = 2_000
    const batch = 50
    const consumed: number[] = []
    const consume = () =>
      platform.log.consume(
        'ticks',
        'sink',
        async (events, { trx }) => {
          // The sink's own write, committed with the offset.
          await trx
            .insertInto('datasets')
            .values({ name: `upto-${events.at(-1)?.offset}`, created_at: new Date().toISOString() })
            .execute()
          consumed.push(...events.map((e) => (e.payload as { n: number }).n))
        },
        { limit: 20 },
      )
    await consume() // registers the consumer: the backlog counts from its position

    let next = 0
    let refused = 0
    let maxSeen = 0
    while (next < total) {
      // Three publish attempts for each step of the consumer: the producer is three times as fast.
      for (let attempt = 0; attempt < 3 && next < total; attempt++) {
        const events = Array.from({ length: batch }, (_, i) => ({ n: next + i }))
        const before = (await platform.log.info('ticks'))?.lastOffset ?? 0
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/topics/ticks/events',
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': `batch-${next}` },
          payload: events,
        })
        if (response.statusCode === 429) {
          refused += 1
          expect(response.headers['retry-after']).toBe('1')
          expect(response.json()).toMatchObject({
            code: 'OVERLOADED',
            message: expect.stringContaining(`limit ${maxBacklog}`) as string,
          })
          // Refused whole: the producer keeps the batch and sends it again later.
          expect((await platform.log.info('ticks'))?.lastOffset).toBe(before)
          continue
        }
        expect(response.statusCode).toBe(200)
        expect(response.json<PublishResult>()).toMatchObject({
          accepted: batch,
          offsets: { first: before + 1, last: before + batch },
        })
        next += batch
      }
      const info = await platform.log.info('ticks')
      maxSeen = Math.max(maxSeen, info?.backlog ?? 0)
      expect(info?.backlog).toBeLessThanOrEqual(maxBacklog)
      await consume()
    }
    while ((await consume()) !== undefined);

    expect(refused).toBeGreaterThan(0)
    expect(maxSeen).toBeGreaterThan(maxBacklog - batch)
    expect(consumed).toEqual(Array.from({ length: total }, (_, i) => i))
    expect(await platform.log.info('ticks')).toMatchObject({
      lastOffset: total,
      backlog: 0,
      consumers: [{ name: 'sink', committed: total, lag: 0 }],
    })
    const sinkRows = await platform.db
      .selectFrom('datasets')
      .select('name')
      .where('name', 'like', 'upto-%')
      .execute()
    expect(sinkRows.length).toBe(Math.ceil(total / 20))
    expect(await platform.log.info('ticks.dead-letter')).toBeUndefined()
  })
})
