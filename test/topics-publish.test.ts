import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { buildServer } from '../src/server/app.js'
import { publish, type DeadLetter, type PublishResult } from '../src/streaming/topics.js'
import { tempPlatform } from './support/workspace.js'

let platform: Platform
let dispose: () => Promise<void>
let app: FastifyInstance
const token = 'a-test-token-that-is-long-enough'
const auth = { authorization: `Bearer ${token}` }

beforeAll(async () => {
  ;({ platform, dispose } = await tempPlatform({
    topics: {
      clicks: { schema: { user: 'string', at: 'timestamp', price: 'number' }, key: 'user', eventTime: 'at' },
      views: { schema: { page: 'string' } },
    },
  }))
  app = await buildServer(platform, { token })
})
afterAll(async () => {
  await app.close()
  await dispose()
})

const click = (n: number) => ({
  user: `u${n % 3}`,
  at: `2030-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`,
  price: n,
})
const letters = async (topic: string): Promise<DeadLetter[]> =>
  (await platform.log.read(`${topic}.dead-letter`, { after: 0, limit: 1000 })).map(
    (e) => e.payload as DeadLetter,
  )

describe('publishing to a topic over HTTP', () => {
  it('needs the bearer token, like every route that changes state', async () => {
    const anonymous = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/views/events',
      payload: [{ page: '/' }],
    })
    expect(anonymous.statusCode).toBe(401)
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/views/events',
      headers: { authorization: 'Bearer nope' },
      payload: [{ page: '/' }],
    })
    expect(wrong.statusCode).toBe(401)
    expect(await platform.log.info('views')).toBeUndefined()
  })

  it('appends the valid events and sets the others aside in the dead-letter topic, with the original and the reasons', async () => {
    const body = [
      click(1),
      { user: 'u9', at: 'soon', price: 3 },
      click(2),
      { user: 'u8', at: '2030-01-01T00:00:00Z', prize: 4 },
      'oops',
    ]
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/clicks/events',
      headers: auth,
      payload: body,
    })
    expect(response.statusCode).toBe(200)
    const result = response.json<PublishResult>()
    expect(result).toMatchObject({
      topic: 'clicks',
      accepted: 2,
      deadLettered: 3,
      duplicates: 0,
      offsets: { first: 1, last: 2 },
    })
    expect(result.deadLetter).toEqual({ topic: 'clicks.dead-letter', offsets: { first: 1, last: 3 } })
    expect(result.problems.map((p) => p.index)).toEqual([1, 3, 4])

    const stored = await platform.log.read('clicks', { after: 0, limit: 10 })
    expect(stored.map((e) => [e.payload, e.key])).toEqual([
      [click(1), 'u1'],
      [click(2), 'u2'],
    ])
    const set = await letters('clicks')
    expect(set).toEqual([
      {
        topic: 'clicks',
        index: 1,
        event: body[1],
        reasons: [
          { field: 'at', expected: expect.stringContaining('timestamp') as string, got: 'string "soon"' },
        ],
      },
      {
        topic: 'clicks',
        index: 3,
        event: body[3],
        reasons: [
          { field: 'price', expected: 'number', got: 'nothing' },
          { field: 'prize', expected: 'no such field (did you mean "price"?)', got: 'number 4' },
        ],
      },
      {
        topic: 'clicks',
        index: 4,
        event: 'oops',
        reasons: [{ field: '(event)', expected: 'a JSON object', got: 'string "oops"' }],
      },
    ])
  })

  it('takes NDJSON, dead-lettering a line that is not JSON with its text and line number', async () => {
    const ndjson = `${JSON.stringify({ page: '/a' })}\n{"page": "/b"\n\n${JSON.stringify({ page: '/c' })}\n`
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/views/events',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      payload: ndjson,
    })
    expect(response.json()).toMatchObject({
      accepted: 2,
      deadLettered: 1,
      offsets: { first: 1, last: 2 },
      problems: [{ line: 2 }],
    })
    expect(await letters('views')).toEqual([
      {
        topic: 'views',
        line: 2,
        raw: '{"page": "/b"',
        reasons: [
          {
            field: '(line)',
            expected: 'a JSON object on one line',
            got: expect.stringContaining('not JSON') as string,
          },
        ],
      },
    ])
  })

  it('with an Idempotency-Key, a retried request stores nothing twice and answers the same offsets', async () => {
    const before = (await platform.log.info('views'))?.lastOffset ?? 0
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/api/v1/topics/views/events',
        headers: { ...auth, 'idempotency-key': 'req-42' },
        payload: [{ page: '/x' }, { page: 1 }, { page: '/y' }],
      })
    const first = (await send()).json<PublishResult>()
    const again = (await send()).json<PublishResult>()
    expect(first).toMatchObject({
      accepted: 2,
      deadLettered: 1,
      duplicates: 0,
      offsets: { first: before + 1, last: before + 2 },
    })
    expect(again).toMatchObject({
      accepted: 2,
      deadLettered: 1,
      duplicates: 3,
      offsets: first.offsets,
      deadLetter: first.deadLetter,
    })
    expect((await platform.log.info('views'))?.lastOffset).toBe(before + 2)
  })

  it('refuses what is not a topic, not an array, or too large, with the reason', async () => {
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/clickz/events',
      headers: auth,
      payload: [],
    })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({
      code: 'TOPIC_NOT_FOUND',
      message: expect.stringContaining('did you mean "clicks"?') as string,
    })
    const object = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/views/events',
      headers: auth,
      payload: { page: '/' },
    })
    expect(object.statusCode).toBe(400)
    expect(object.json()).toMatchObject({
      code: 'USAGE',
      message: expect.stringContaining('JSON array') as string,
    })
    const json = { ...auth, 'content-type': 'application/json' }
    const huge = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/views/events',
      headers: json,
      payload: JSON.stringify(Array.from({ length: 100_000 }, () => ({ page: '/' }))),
    })
    expect(huge.statusCode).toBe(413)
    const many = await app.inject({
      method: 'POST',
      url: '/api/v1/topics/views/events',
      headers: json,
      payload: JSON.stringify(Array.from({ length: 10_001 }, () => ({ page: '/' }))),
    })
    expect(many.statusCode).toBe(413)
    expect(many.json()).toMatchObject({
      code: 'INPUT_TOO_LARGE',
      message: expect.stringContaining('10001 events, more than the 10000 allowed') as string,
    })
    expect(await letters('views')).toHaveLength(2)
  })

  it('shows topics with offsets, backlog, consumers and dead letters', async () => {
    await platform.log.consume('clicks', 'windows', () => Promise.resolve(), { limit: 1 })
    const list = (await app.inject({ url: '/api/v1/topics' })).json<{ topics: { name: string }[] }>()
    expect(list.topics.map((t) => t.name)).toEqual(['clicks', 'views'])
    const clicks = (await app.inject({ url: '/api/v1/topics/clicks' })).json<unknown>()
    expect(clicks).toMatchObject({
      name: 'clicks',
      key: 'user',
      eventTime: 'at',
      offsets: { first: 1, last: 2 },
      events: 2,
      backlog: 1,
      maxBacklog: 100_000,
      consumers: [{ name: 'windows', committed: 1, lag: 1 }],
      deadLetter: { topic: 'clicks.dead-letter', events: 3, lastOffset: 3 },
    })
    expect((await app.inject({ url: '/api/v1/topics/nope' })).statusCode).toBe(404)
  })
})

describe('publish() from code', () => {
  it('validates, dead-letters and counts like the HTTP route', async () => {
    const result = await publish(platform, 'clicks', [click(10), { user: 'u1' }], { idempotencyKey: 'lib-1' })
    expect(result).toMatchObject({ accepted: 1, deadLettered: 1, offsets: { first: 3, last: 3 } })
    expect((await letters('clicks')).at(-1)).toMatchObject({
      event: { user: 'u1' },
      reasons: [{ field: 'at' }, { field: 'price' }],
    })
    await expect(publish(platform, 'nope', [])).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' })
  })
})
