import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { listBatches } from '../src/data/batches.js'
import { evaluateDataTrigger } from '../src/orchestration/triggers/data.js'
import { drainStream, streamStatus, tooLateTopic, windowBatchId } from '../src/streaming/stream-source.js'
import { publish } from '../src/streaming/topics.js'
import { WindowAggregator } from '../src/streaming/windows.js'
import { tempPlatform } from './support/workspace.js'

let platform: Platform
let dispose: () => Promise<void>

beforeAll(async () => {
  ;({ platform, dispose } = await tempPlatform({
    topics: { clicks: { schema: { user: 'string', at: 'timestamp', price: 'number' }, key: 'user', eventTime: 'at' } },
    datasets: {
      clicks: { eventTime: 'at', stream: { topic: 'clicks', window: '1h', allowedLateness: '10m', dropAfter: '2h' } },
      spend: {
        eventTime: 'at',
        stream: {
          topic: 'clicks',
          window: '1h',
          aggregate: { by: ['user'], fields: { clicks: { op: 'count' }, spent: { op: 'sum', of: 'price' }, top: { op: 'max', of: 'price' } } },
        },
      },
    },
    pipelines: {
      ctr: {
        dataset: 'clicks',
        task: 'regression',
        features: { user: { type: 'categorical' } },
        trainer: { type: 'linear' },
        triggers: [{ on: 'data', minNewRows: 1 }],
      },
    },
  }))
})
afterAll(async () => dispose())

const at = (hhmm: string) => `2026-01-01T${hhmm}:00Z`
const click = (user: string, hhmm: string, price: number) => ({ user, at: at(hhmm), price })
const windowMs = (hh: string) => Date.parse(`2026-01-01T${hh}:00:00Z`)

describe('a dataset fed by a stream', () => {
  it('writes each window as one batch when the watermark passes its end, and the data trigger sees its rows', async () => {
    await publish(platform, 'clicks', [
      click('a', '00:05', 1), click('b', '00:20', 2), click('a', '00:59', 3),
      click('a', '01:10', 4), click('b', '01:30', 5),
      click('c', '02:05', 6), // watermark 01:55: window 00 closes, window 01 still open
    ])
    await drainStream(platform, 'clicks')
    await drainStream(platform, 'spend')
    let batches = await listBatches(platform.db, 'clicks')
    expect(batches.map((b) => [b.id, b.rows, b.state])).toEqual([[windowBatchId('clicks', 'clicks', windowMs('00'), 1), 3, 'accepted']])
    expect(batches[0]?.minEventTime).toContain('2026-01-01')

    await publish(platform, 'clicks', [click('c', '02:20', 7)]) // watermark 02:10 closes window 01
    await drainStream(platform, 'clicks')
    batches = await listBatches(platform.db, 'clicks')
    expect(batches.map((b) => b.rows)).toEqual([3, 2])
    const decision = await evaluateDataTrigger(platform, 'ctr', 'clicks', { on: 'data', minNewRows: 1 }, new Date())
    expect(decision.newRows).toBe(5)
    expect(decision.run).not.toBeNull()
  })

  it('puts a late event into a correction batch of its window, and sets aside one past dropAfter with the reason', async () => {
    await publish(platform, 'clicks', [click('d', '00:40', 8)]) // window 00 closed: late, a correction
    await drainStream(platform, 'clicks')
    await drainStream(platform, 'spend')
    const batches = await listBatches(platform.db, 'clicks')
    const correction = batches.at(-1)
    expect(correction?.id).toBe(windowBatchId('clicks', 'clicks', windowMs('00'), 2))
    expect(correction?.rows).toBe(1)
    expect(correction?.parentId).toBe(windowBatchId('clicks', 'clicks', windowMs('00'), 1))

    await publish(platform, 'clicks', [click('e', '05:00', 9), click('f', '01:30', 10)]) // watermark 04:50: window 01 ended 2h50 before
    await drainStream(platform, 'clicks')
    // Window 02 (02:05, 02:20) closes too; the 01:30 event is set aside, not written anywhere else.
    expect((await listBatches(platform.db, 'clicks')).map((b) => b.rows)).toEqual([3, 2, 1, 2])
    const setAside = await platform.log.read(tooLateTopic('clicks'), { after: 0, limit: 100 })
    expect(setAside.map((e) => e.payload)).toMatchObject([{ dataset: 'clicks', event: click('f', '01:30', 10) }])
    expect((setAside[0]?.payload as { reason: string }).reason).toContain('more than dropAfter 2h before the watermark')

    const status = await streamStatus(platform, 'clicks')
    expect(status.totals).toEqual({ onTime: 8, late: 1, tooLate: 1, pendingVersions: 0 })
    expect(status.watermark).toBe('2026-01-01T04:50:00.000Z')
    const w00 = status.windows.find((w) => w.start === '2026-01-01T00:00:00.000Z')
    expect(w00).toMatchObject({ onTime: 3, late: 1, tooLate: 0, closed: true })
    expect(w00?.versions.map((v) => [v.version, v.rows, v.batchState])).toEqual([[1, 3, 'accepted'], [2, 1, 'accepted']])
    expect(status.consumer.lag).toBe(0)
  })

  it('aggregates per key, and a correction recomputes the window and supersedes the version before it', async () => {
    await drainStream(platform, 'spend') // the same topic, its own consumer: every event so far
    const batches = await listBatches(platform.db, 'spend')
    const status = await streamStatus(platform, 'spend')
    // Window 00 closed with v1 (users a, b); the late 00:40 click of d recomputed it as v2 (a, b, d).
    const w00 = status.windows.find((w) => w.start === '2026-01-01T00:00:00.000Z')
    expect(w00?.versions.map((v) => [v.version, v.rows])).toEqual([[1, 2], [2, 3]])
    const byId = new Map(batches.map((b) => [b.id, b]))
    expect(byId.get(windowBatchId('spend', 'clicks', windowMs('00'), 1))?.state).toBe('discarded')
    expect(byId.get(windowBatchId('spend', 'clicks', windowMs('00'), 2))?.state).toBe('accepted')
  })
})

describe('window aggregates', () => {
  it('computes count, sum, mean, min, max, last and distinct per key, in key order', () => {
    const agg = new WindowAggregator({
      by: ['user'],
      fields: {
        n: { op: 'count' }, total: { op: 'sum', of: 'price' }, avg: { op: 'mean', of: 'price' }, lo: { op: 'min', of: 'price' },
        hi: { op: 'max', of: 'price' }, latest: { op: 'last', of: 'page' }, pages: { op: 'distinct', of: 'page' },
      },
    })
    agg.add({ user: 'b', price: 4, page: 'x' }, 3, 1)
    agg.add({ user: 'a', price: 1, page: 'x' }, 2, 2)
    agg.add({ user: 'a', price: 5, page: 'y' }, 1, 3) // earlier event time: not the last
    agg.add({ user: 'a', price: 3, page: 'x' }, 2, 4) // same time, later offset: the last
    expect(agg.rows()).toEqual([
      { user: 'a', n: 3, total: 9, avg: 3, lo: 1, hi: 5, latest: 'x', pages: 2 },
      { user: 'b', n: 1, total: 4, avg: 4, lo: 4, hi: 4, latest: 'x', pages: 1 },
    ])
  })
})
