import { sql } from 'kysely'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Platform } from '../app/platform.js'
import { tempPlatform } from '../../test/support/workspace.js'
import { capInstance, PredictionLog } from './prediction-log.js'

let platform: Platform
let dispose: () => Promise<void>

beforeEach(async () => {
  ;({ platform, dispose } = await tempPlatform({}))
})
afterEach(async () => {
  await dispose()
})

const servedAt = new Date('2024-03-01T10:15:30.000Z')
/** Never flushes by itself: the tests decide when. */
const manual = { flushIntervalMs: 3_600_000, flushRows: 1_000_000, now: () => servedAt }

const rows = () => platform.db.selectFrom('predictions').selectAll().orderBy('id').execute()
const counts = () => platform.db.selectFrom('serving_counts').selectAll().orderBy('version').execute()

describe('PredictionLog', () => {
  it('writes every answered prediction with its version, time, value, instance and request key', async () => {
    const log = new PredictionLog(platform.db, manual)
    log.admit(2, 100)
    log.append('p', 3, ['a1', 'a2'], [0.25, 0.75], [{ x: 1 }, { x: 2, text: 'hi' }], 'user-7', 100)
    log.admit(1, 50)
    log.append('p', 4, ['b1'], [0.5], [{ x: 3 }], undefined, 50)
    log.count('p', 4, true)
    expect(await rows()).toEqual([])
    expect(log.waiting).toBe(3)
    await log.flush()
    expect(log.waiting).toBe(0)
    expect(await rows()).toEqual([
      {
        id: 'a1',
        pipeline: 'p',
        version: 3,
        served_at: '2024-03-01T10:15:30.000Z',
        prediction: 0.25,
        instance: '{"x":1}',
        instance_bytes: 7,
        request_key: 'user-7',
        label: null,
        labelled_at: null,
      },
      {
        id: 'a2',
        pipeline: 'p',
        version: 3,
        served_at: '2024-03-01T10:15:30.000Z',
        prediction: 0.75,
        instance: '{"x":2,"text":"hi"}',
        instance_bytes: 19,
        request_key: 'user-7',
        label: null,
        labelled_at: null,
      },
      {
        id: 'b1',
        pipeline: 'p',
        version: 4,
        served_at: '2024-03-01T10:15:30.000Z',
        prediction: 0.5,
        instance: '{"x":3}',
        instance_bytes: 7,
        request_key: null,
        label: null,
        labelled_at: null,
      },
    ])
    // Request counts add up across writes, per version and minute.
    log.admit(1, 10)
    log.append('p', 3, ['c1'], [0.1], [{ x: 4 }], undefined, 10)
    await log.close()
    expect(await counts()).toEqual([
      { pipeline: 'p', version: 3, minute: '2024-03-01T10:15', requests: 2, errors: 0 },
      { pipeline: 'p', version: 4, minute: '2024-03-01T10:15', requests: 2, errors: 1 },
    ])
  })

  it('refuses with OVERLOADED what would not fit, admits again once written, and refuses everything after close', async () => {
    const log = new PredictionLog(platform.db, { ...manual, maxBuffered: 4 })
    log.admit(3, 10)
    log.append('p', 1, ['a', 'b', 'c'], [0.1, 0.2, 0.3], [{}, {}, {}], undefined, 10)
    expect(() => log.admit(2, 10)).toThrow(
      expect.objectContaining({
        code: 'OVERLOADED',
        message: expect.stringMatching(
          /prediction log is full \(3 predictions waiting.*at most 4\)/,
        ) as unknown,
      }),
    )
    log.admit(1, 10)
    log.append('p', 1, ['d'], [0.4], [{}], undefined, 10)
    expect(() => log.admit(1, 10)).toThrow(expect.objectContaining({ code: 'OVERLOADED' }))
    await log.flush()
    log.admit(4, 10)
    await log.close()
    expect((await rows()).map((r) => r.id)).toEqual(['a', 'b', 'c', 'd'])
    expect(() => log.admit(1, 10)).toThrow(
      expect.objectContaining({
        code: 'OVERLOADED',
        message: expect.stringContaining('shutting down') as unknown,
      }),
    )
  })

  it('bounds the request bytes it holds, not only the rows', async () => {
    const log = new PredictionLog(platform.db, { ...manual, maxBufferedBytes: 1000 })
    log.admit(1, 900)
    log.append('p', 1, ['a'], [0.1], [{}], undefined, 900)
    expect(() => log.admit(1, 200)).toThrow(expect.objectContaining({ code: 'OVERLOADED' }))
    await log.close()
  })

  it('keeps the rows of a write the database refused, and writes them once it accepts again', async () => {
    const errors: unknown[] = []
    const log = new PredictionLog(platform.db, { ...manual, onError: (e) => errors.push(e) })
    log.admit(2, 10)
    log.append('p', 1, ['a', 'b'], [0.1, 0.2], [{}, {}], undefined, 10)
    await sql`alter table predictions rename to predictions_away`.execute(platform.db)
    await expect(log.flush()).rejects.toThrow(/predictions/)
    expect(log.waiting).toBe(2)
    await sql`alter table predictions_away rename to predictions`.execute(platform.db)
    log.admit(1, 10)
    log.append('p', 1, ['c'], [0.3], [{}], undefined, 10)
    await log.close()
    expect((await rows()).map((r) => r.id)).toEqual(['a', 'b', 'c'])
    expect(await counts()).toEqual([expect.objectContaining({ version: 1, requests: 2, errors: 0 })])
  })

  it('writes on its own after the flush interval', async () => {
    const log = new PredictionLog(platform.db, { flushIntervalMs: 10 })
    log.admit(1, 10)
    log.append('p', 1, ['a'], [0.1], [{}], undefined, 10)
    // Wait for the event (the row), not for a time.
    for (let i = 0; i < 500 && (await rows()).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    expect((await rows()).map((r) => r.id)).toEqual(['a'])
    expect(log.waiting).toBe(0)
    await log.close()
  })
})

describe('capInstance', () => {
  it('keeps small instances whole and cuts long strings of large ones to fit, recording the full size', () => {
    expect(capInstance({ a: 'x' }, 100)).toEqual({ json: '{"a":"x"}', size: 9 })
    const body = 'é'.repeat(5000)
    const { json, size } = capInstance({ subject: 'hello', body }, 1024)
    expect(size).toBe(Buffer.byteLength(JSON.stringify({ subject: 'hello', body })))
    expect(Buffer.byteLength(json!)).toBeLessThanOrEqual(1024)
    const kept = JSON.parse(json!) as { subject: string; body: string }
    expect(kept.subject).toBe('hello')
    expect(kept.body.endsWith('…')).toBe(true)
    expect(body.startsWith(kept.body.slice(0, -1))).toBe(true)
    expect(
      capInstance(
        Array.from({ length: 1000 }, (_, i) => i),
        100,
      ).json,
    ).toBeNull()
  })
})
