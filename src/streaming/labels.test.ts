import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../app/platform.js'
import { tempPlatform } from '../../test/support/workspace.js'
import { fitDelayModel, materializeLabels, pendingPositiveProbability, startLabelJoins, type LabelReport } from './labels.js'
import { publish } from './topics.js'

let platform: Platform
let dispose: () => Promise<void>

beforeAll(async () => {
  ;({ platform, dispose } = await tempPlatform({
    topics: {
      clicks: { schema: { id: 'string', at: 'timestamp', color: 'string' }, key: 'id', eventTime: 'at' },
      buys: { schema: { id: 'string', at: 'timestamp' }, key: 'id', eventTime: 'at' },
    },
    datasets: {
      sales: { eventTime: 'at', label: 'bought', id: 'id', validation: { minRows: 1000 }, labels: { examples: 'clicks', topic: 'buys', key: 'id', window: '2h', bucket: '1h' } },
    },
  }))
}, 60_000)
afterAll(async () => dispose())

const at = (minutes: number) => new Date(Date.UTC(2025, 0, 1) + minutes * 60_000).toISOString()
const rows = async () =>
  (await platform.db.selectFrom('batches').select(['source_name', 'row_count']).where('dataset', '=', 'sales').orderBy('seq').execute()).map((b) => [b.source_name, Number(b.row_count)])

describe('materializeLabels', () => {
  it('writes a bucket once all its windows passed the watermark of both topics; a late example goes into a new batch of its bucket', async () => {
    await publish(platform, 'clicks', [
      { id: 'a', at: at(0), color: 'red' },
      { id: 'b', at: at(10), color: 'blue' },
      { id: 'c', at: at(70), color: 'red' },
    ])
    await publish(platform, 'buys', [{ id: 'a', at: at(100) }, { id: 'b', at: at(200) }])
    // Clicks reach only 01:10: the watermark (the lower topic) holds every window open.
    let report = await materializeLabels(platform, 'sales')
    expect(report.watermark).toBe(at(70))
    expect(report.buckets.map((b) => [b.positive, b.negative, b.pending])).toEqual([[1, 0, 1], [0, 0, 1]])
    expect(report.batches).toEqual([])

    await publish(platform, 'clicks', [{ id: 'd', at: at(190), color: 'blue' }])
    report = await materializeLabels(platform, 'sales')
    // Watermark 03:10: bucket 00:00 (windows end by 03:00) is written; b bought after its 2h window, so 0.
    expect(report.buckets[0]).toMatchObject({ examples: 2, positive: 1, negative: 1, pending: 0, matured: true, written: 2 })
    expect(report.buckets[1]).toMatchObject({ matured: false, written: 0 })
    expect(await rows()).toEqual([['labels-2025-01-01T00:00:00.000Z-1-2.jsonl', 2]])

    // An example of 00:00 that arrives after its bucket was written is not lost: a second batch of that bucket.
    await publish(platform, 'clicks', [{ id: 'e', at: at(30), color: 'red' }])
    report = await materializeLabels(platform, 'sales')
    expect(report.batches).toEqual([{ bucket: at(0), rows: 1, status: 'ingested', state: 'accepted' }])
    expect(report.buckets[0]).toMatchObject({ examples: 3, written: 3 })
    expect((await materializeLabels(platform, 'sales')).batches).toEqual([])
    expect(await rows()).toEqual([['labels-2025-01-01T00:00:00.000Z-1-2.jsonl', 2], ['labels-2025-01-01T00:00:00.000Z-5-5.jsonl', 1]])
  })

  it('the delay model gives pending examples the chance they still convert, falling as time passes', () => {
    const model = fitDelayModel([
      { positive: true, delayMs: 10 },
      { positive: true, delayMs: 100 },
      ...Array.from({ length: 8 }, () => ({ positive: false })),
    ])
    expect(model.rate).toBe(0.2)
    expect(pendingPositiveProbability(model, 0)).toBeCloseTo(0.2, 10)
    expect(pendingPositiveProbability(model, 50)).toBeCloseTo(0.1 / 0.9, 10)
    expect(pendingPositiveProbability(model, 100)).toBe(0)
  })

  it('the background join reports each labelled dataset and stops cleanly', async () => {
    let reported!: (report: LabelReport) => void
    const first = new Promise<LabelReport>((resolve) => (reported = resolve))
    const errors: unknown[] = []
    const joins = startLabelJoins(platform, { intervalMs: 10, onPass: (r) => reported(r), onError: (_, e) => errors.push(e) })
    expect(joins.datasets).toEqual(['sales'])
    expect((await first).buckets[0]).toMatchObject({ examples: 3, written: 3 })
    await joins.stop()
    expect(errors).toEqual([])
  })
})
