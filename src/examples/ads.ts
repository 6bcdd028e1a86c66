import type { Platform } from '../app/platform.js'
import type { FreshetConfigInput } from '../config/schema.js'
import { mulberry32 } from '../core/random.js'
import { publish } from '../streaming/topics.js'

// examples/ads: the course's ad-conversion case. No public data set has impressions with conversion delays, so
// this is a seeded, documented generator (DESIGN.md §8): impressions with a few ad features, each converting with
// a probability from a fixed logistic model, after a delay drawn so that about 35% of conversions come within an
// hour, 50% within a day and the rest up to 30 days later (log-uniform inside each band).

export interface Impression {
  readonly impression_id: string
  readonly at: string
  readonly ad_category: string
  readonly site: string
  readonly device: string
  readonly hour: number
}

export interface Conversion {
  readonly impression_id: string
  readonly at: string
}

export interface AdsData {
  /** In event-time order. */
  readonly impressions: Impression[]
  /** In event-time order; at most one per impression. */
  readonly conversions: Conversion[]
  /** Ground truth: did impression i (eventually) convert. */
  readonly converted: Uint8Array
  /** The model's true conversion probability of impression i. */
  readonly probability: Float64Array
}

export interface AdsOptions {
  readonly seed?: number
  /** Simulated days of impressions (default 60). */
  readonly days?: number
  /** Impressions per simulated day (default 500). */
  readonly perDay?: number
  /** First impression time (default 2025-01-01T00:00:00Z). */
  readonly start?: string
}

const hourMs = 3_600_000
const dayMs = 24 * hourMs

/** Conversion delay bands: share of conversions, and the delay range (log-uniform inside). */
export const delayBands = [
  { share: 0.35, minMs: 30_000, maxMs: hourMs },
  { share: 0.15, minMs: hourMs, maxMs: dayMs },
  { share: 0.5, minMs: dayMs, maxMs: 30 * dayMs },
] as const

export function sampleDelayMs(random: () => number): number {
  let r = random()
  for (const band of delayBands) {
    if (r < band.share || band === delayBands[2]) {
      return Math.round(band.minMs * Math.exp(random() * Math.log(band.maxMs / band.minMs)))
    }
    r -= band.share
  }
  return dayMs
}

const categories = { travel: 0.6, retail: 0.3, finance: 0.0, games: -0.3, news: -0.9, auto: -0.5, food: 0.2, health: -0.2 }
const sites = { search: 0.5, social: -0.2, video: -0.4, blog: 0.1, mail: -0.1 }
const devices = { desktop: 0.2, mobile: -0.2 }

/** Deterministic for a seed: the same options give the same events. */
export function generateAds(options: AdsOptions = {}): AdsData {
  const random = mulberry32(options.seed ?? 2014)
  const days = options.days ?? 60
  const perDay = options.perDay ?? 500
  const start = Date.parse(options.start ?? '2025-01-01T00:00:00Z')
  const n = days * perDay
  const pick = <T extends Record<string, number>>(table: T): [keyof T & string, number] => {
    const entries = Object.entries(table)
    return entries[Math.floor(random() * entries.length)] as [keyof T & string, number]
  }
  const impressions: Impression[] = []
  const pending: { at: number; id: string }[] = []
  const converted = new Uint8Array(n)
  const probability = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const at = start + Math.floor(((i + random()) / n) * days * dayMs)
    const [category, c] = pick(categories)
    const [site, s] = pick(sites)
    const [device, d] = pick(devices)
    const hour = new Date(at).getUTCHours()
    const evening = hour >= 18 && hour <= 22 ? 0.3 : 0
    const p = 1 / (1 + Math.exp(-(-2.3 + c + s + d + evening)))
    const id = `imp-${i.toString().padStart(7, '0')}`
    impressions.push({ impression_id: id, at: new Date(at).toISOString(), ad_category: category, site, device, hour })
    probability[i] = p
    if (random() < p) {
      converted[i] = 1
      pending.push({ at: at + sampleDelayMs(random), id })
    }
  }
  pending.sort((a, b) => a.at - b.at)
  return { impressions, conversions: pending.map((c) => ({ impression_id: c.id, at: new Date(c.at).toISOString() })), converted, probability }
}

/** The topics, dataset and pipeline of the ads example (the dataset joins conversions by impression id within 30 days). */
export const adsConfig = {
  topics: {
    impressions: { schema: { impression_id: 'string', at: 'timestamp', ad_category: 'string', site: 'string', device: 'string', hour: 'number' }, key: 'impression_id', eventTime: 'at', maxBacklog: 1_000_000 },
    conversions: { schema: { impression_id: 'string', at: 'timestamp' }, key: 'impression_id', eventTime: 'at', maxBacklog: 1_000_000 },
  },
  datasets: {
    ads: { eventTime: 'at', label: 'converted', id: 'impression_id', labels: { examples: 'impressions', topic: 'conversions', key: 'impression_id', window: '30d' } },
  },
  pipelines: {
    ads: {
      dataset: 'ads',
      task: 'binary',
      features: { ad_category: { type: 'categorical' }, site: { type: 'categorical' }, device: { type: 'categorical' }, hour: { type: 'categorical' } },
      trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 12 },
      split: { by: 'time', holdout: 0.1 },
    },
  },
} satisfies FreshetConfigInput

/**
 * Publishes the events of simulated time `[from, until)` (impressions and conversions) to their topics, so a
 * driver advancing `until` step by step replays weeks in seconds (accelerated time). Idempotent: a retried step
 * stores nothing twice (message ids from the step and position).
 */
export async function replayAds(platform: Platform, data: AdsData, window: { readonly from: Date; readonly until: Date }): Promise<{ impressions: number; conversions: number }> {
  const from = window.from.getTime()
  const until = window.until.getTime()
  const within = (e: { at: string }): boolean => {
    const at = Date.parse(e.at)
    return at >= from && at < until
  }
  const counts = { impressions: 0, conversions: 0 }
  for (const [topic, events] of [['impressions', data.impressions.filter(within)], ['conversions', data.conversions.filter(within)]] as const) {
    for (let i = 0; i < events.length; i += 5000) {
      await publish(platform, topic, events.slice(i, i + 5000), { idempotencyKey: `replay-${from}`, firstIndex: i })
    }
    counts[topic] = events.length
  }
  return counts
}
