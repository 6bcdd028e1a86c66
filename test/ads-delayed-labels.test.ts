import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { mulberry32 } from '../src/core/random.js'
import { ingestFile } from '../src/data/ingest.js'
import { adsConfig, delayBands, generateAds, replayAds, type AdsData } from '../src/examples/ads.js'
import { Predictor } from '../src/serving/predictor.js'
import { buildServer } from '../src/server/app.js'
import { fitDelayModel, labelMaturity, labelState, materializeLabels, pendingPositiveProbability, type LabelReport } from '../src/streaming/labels.js'
import { trainAndRegister } from '../src/training/train.js'
import { tempPlatform } from './support/workspace.js'

const dayMs = 86_400_000
const days = 60
const start = Date.parse('2025-01-01T00:00:00Z')
const now = start + days * dayMs
const data: AdsData = generateAds({ seed: 2014, days, perDay: 500 })
const pipeline = (dataset: string) => ({ ...adsConfig.pipelines.ads, dataset })

let platform: Platform
let dir: string
let dispose: () => Promise<void>
const reports: LabelReport[] = []

beforeAll(async () => {
  ;({ platform, dir, dispose } = await tempPlatform({
    topics: adsConfig.topics,
    datasets: {
      ...adsConfig.datasets,
      ads_naive: { eventTime: 'at', label: 'converted', id: 'impression_id' },
      ads_weighted: { eventTime: 'at', label: 'converted', id: 'impression_id' },
    },
    pipelines: { matured: pipeline('ads'), naive: pipeline('ads_naive'), weighted: pipeline('ads_weighted') },
  }))
  // Accelerated time: one simulated day per step; every 10 days the matured buckets are written (catch-up).
  for (let day = 0; day < days; day++) {
    await replayAds(platform, data, { from: new Date(start + day * dayMs), until: new Date(start + (day + 1) * dayMs) })
    if (day % 10 === 9) reports.push(await materializeLabels(platform, 'ads'))
  }
}, 300_000)
afterAll(async () => dispose())

/** The last 14 days as a dynamic pipeline would see them now: conversions seen so far, pending taken as negative. */
function recentRows(label: (i: number, at: number, convertedAt: number | undefined) => number): string {
  const convertedAt = new Map(data.conversions.filter((c) => Date.parse(c.at) < now).map((c) => [c.impression_id, Date.parse(c.at)]))
  const lines: string[] = []
  data.impressions.forEach((imp, i) => {
    const at = Date.parse(imp.at)
    if (at < now - 14 * dayMs) return
    lines.push(JSON.stringify({ ...imp, converted: label(i, at, convertedAt.get(imp.impression_id)) }))
  })
  return `${lines.join('\n')}\n`
}

async function meanPrediction(name: string, rows: readonly object[]): Promise<number> {
  const version = (await platform.registry.alias(name, 'production'))!
  const predictor = await Predictor.load(platform.registry, name, version, platform.config.root)
  let sum = 0
  for (let i = 0; i < rows.length; i += 5000) sum += predictor.predict(rows.slice(i, i + 5000)).predictions.reduce((a, b) => a + b, 0)
  return sum / rows.length
}

describe('examples/ads: delayed conversions with a 30-day attribution window', () => {
  it('the generator has the documented delay profile', () => {
    const delays = data.conversions.map((c) => {
      const i = Number(c.impression_id.slice(4))
      return Date.parse(c.at) - Date.parse(data.impressions[i]!.at)
    })
    const within = (ms: number) => delays.filter((d) => d <= ms).length / delays.length
    console.log(`conversions ${delays.length} of ${data.impressions.length} impressions; within 1h ${within(3_600_000).toFixed(3)}, 1d ${within(dayMs).toFixed(3)}, 30d ${within(30 * dayMs).toFixed(3)}`)
    expect(within(3_600_000)).toBeCloseTo(delayBands[0].share, 1)
    expect(within(dayMs)).toBeCloseTo(0.5, 1)
    expect(within(30 * dayMs)).toBe(1)
    expect(generateAds({ seed: 2014, days: 2, perDay: 50 })).toEqual(generateAds({ seed: 2014, days: 2, perDay: 50 }))
  })

  it('labels: positive when the conversion comes within the window, negative once it has passed, pending before', () => {
    expect(labelState(0, 5, 10, 100)).toBe('positive')
    expect(labelState(0, undefined, 99, 100)).toBe('pending')
    expect(labelState(0, undefined, 100, 100)).toBe('negative')
    expect(labelState(0, 150, 200, 100)).toBe('negative')
  })

  it('only matured days are written, each once, with the labels the join gives; maturity is reported per day', async () => {
    const final = await labelMaturity(platform, 'ads')
    console.log(`watermark ${final.watermark}; per day: start, examples, positive, negative, pending, maturity, written`)
    for (const b of final.buckets.filter((_, i) => i % 6 === 0 || i >= 57)) console.log(`  ${b.start.slice(0, 10)} ${b.examples} ${b.positive} ${b.negative} ${b.pending} ${b.maturity.toFixed(3)} ${b.written}`)
    expect(final.buckets).toHaveLength(days)
    // Day d matures once the watermark passes its end plus 30 days: days 0..28 of 60 (the watermark is just before day 60).
    const matured = final.buckets.filter((b) => b.matured)
    expect(matured).toHaveLength(29)
    for (const b of matured) {
      expect(b.pending).toBe(0)
      expect(b.written).toBe(b.examples)
    }
    for (const b of final.buckets.filter((b) => !b.matured)) expect(b.written).toBe(0)
    expect(final.buckets.at(-1)!.maturity).toBeLessThan(0.1)
    expect(final.buckets[35]!.maturity).toBeLessThan(final.buckets[28]!.maturity)
    // Catch-up: later passes wrote the days that matured since the earlier ones, nothing twice.
    expect(reports.map((r) => r.batches.length)).toEqual([0, 0, 0, 9, 10, 10])
    expect((await materializeLabels(platform, 'ads')).batches).toEqual([])
    const batches = await platform.db.selectFrom('batches').select(['row_count', 'state']).where('dataset', '=', 'ads').execute()
    expect(batches.every((b) => b.state === 'accepted')).toBe(true)
    const rows = batches.reduce((a, b) => a + Number(b.row_count), 0)
    expect(rows).toBe(matured.reduce((a, b) => a + b.examples, 0))
    // The written labels are the ground truth: every conversion of a matured day came within the window.
    const positives = matured.reduce((a, b) => a + b.positive, 0)
    const truth = data.impressions.filter((imp, i) => Date.parse(imp.at) < start + 29 * dayMs && data.converted[i] === 1).length
    expect(positives).toBe(truth)

    // The same report over HTTP.
    const app = await buildServer(platform)
    try {
      const answer = await app.inject({ method: 'GET', url: '/api/v1/datasets/ads/labels' })
      expect(answer.statusCode).toBe(200)
      expect(answer.json<LabelReport>().buckets.filter((b) => b.matured)).toHaveLength(29)
    } finally {
      await app.close()
    }
  })

  it('the model trained on matured labels is calibrated; naive training on immature labels underestimates the rate', async () => {
    const naiveFile = path.join(dir, 'naive.jsonl')
    await writeFile(naiveFile, recentRows((_, at, convertedAt) => (convertedAt !== undefined ? 1 : 0)))
    await ingestFile(platform, 'ads_naive', naiveFile)

    // Delay-aware alternative (Chapelle 2014): the same recent rows, each pending one labelled positive with the
    // probability that it will still convert, from the delay model of the matured days (seeded draws).
    const conversionAt = new Map(data.conversions.map((c) => [c.impression_id, Date.parse(c.at)]))
    const matured = data.impressions.flatMap((imp) => {
      const at = Date.parse(imp.at)
      if (at >= start + 29 * dayMs) return []
      const converted = conversionAt.get(imp.impression_id)
      return [{ positive: converted !== undefined, ...(converted === undefined ? {} : { delayMs: converted - at }) }]
    })
    const model = fitDelayModel(matured)
    const draw = mulberry32(7)
    const weightedFile = path.join(dir, 'weighted.jsonl')
    await writeFile(weightedFile, recentRows((_, at, convertedAt) => (convertedAt !== undefined ? 1 : draw() < pendingPositiveProbability(model, now - at) ? 1 : 0)))
    await ingestFile(platform, 'ads_weighted', weightedFile)

    for (const name of ['matured', 'naive', 'weighted']) expect((await trainAndRegister(platform, name)).deployed).toBe(true)

    // Observed: the true (eventual) conversion rate of the last 14 days' impressions; the models score those rows.
    const recent = data.impressions.map((imp, i) => ({ imp, i })).filter(({ imp }) => Date.parse(imp.at) >= now - 14 * dayMs)
    const observed = recent.filter(({ i }) => data.converted[i] === 1).length / recent.length
    const rows = recent.map(({ imp }) => imp)
    const [maturedMean, naiveMean, weightedMean] = [await meanPrediction('matured', rows), await meanPrediction('naive', rows), await meanPrediction('weighted', rows)]
    console.log(`observed conversion rate ${observed.toFixed(4)}; mean predicted: matured ${maturedMean.toFixed(4)} (${((maturedMean / observed - 1) * 100).toFixed(1)}%), naive ${naiveMean.toFixed(4)} (${((naiveMean / observed - 1) * 100).toFixed(1)}%), delay-weighted ${weightedMean.toFixed(4)} (${((weightedMean / observed - 1) * 100).toFixed(1)}%)`)
    expect(Math.abs(maturedMean / observed - 1)).toBeLessThan(0.1)
    expect(naiveMean / observed).toBeLessThan(0.85)
    expect(Math.abs(weightedMean / observed - 1)).toBeLessThan(0.1)
  }, 300_000)
})
