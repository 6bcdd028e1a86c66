import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Platform } from '../../src/app/platform.js'
import type { FreshetConfigInput } from '../../src/config/schema.js'
import { ingestFile } from '../../src/data/ingest.js'
import { trainAndRegister, type TrainOutcome } from '../../src/training/train.js'
import { tempPlatform } from './workspace.js'

/**
 * A small, learnable binary dataset: a row is positive when its text talks about a prize, its colour is red and
 * its amount is high, with 10% of labels flipped so the model is not trivially separable. Seeded, so every run
 * writes the same bytes. Event times increase by one hour per row.
 */
export function learnableCsv(rows = 200, seed = 42): string {
  let state = seed >>> 0
  const random = (): number => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const positiveWords = ['win', 'prize', 'free', 'cash', 'winner', 'claim']
  const negativeWords = ['meeting', 'agenda', 'report', 'lunch', 'notes', 'review']
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const lines = ['ts,message,color,amount,label']
  const start = Date.UTC(2024, 0, 1)
  for (let i = 0; i < rows; i++) {
    const positive = random() < 0.5
    const words = Array.from({ length: 4 }, () => pick(positive ? positiveWords : negativeWords))
    const color = positive ? (random() < 0.8 ? 'red' : 'blue') : random() < 0.8 ? 'green' : 'blue'
    const amount = positive ? 80 + random() * 40 : random() * 40
    const label = random() < 0.1 ? Number(!positive) : Number(positive)
    lines.push(
      `${new Date(start + i * 3_600_000).toISOString()},${words.join(' ')},${color},${amount.toFixed(2)},${label}`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** The pipeline `p` over dataset `d`, as the fixture declares it. */
export const fixtureConfig = {
  datasets: { d: { eventTime: 'ts', label: 'label' } },
  pipelines: {
    p: {
      dataset: 'd',
      task: 'binary',
      features: { message: { type: 'text' }, color: { type: 'categorical' }, amount: { type: 'numeric' } },
      trainer: { type: 'linear', hashBits: 12 },
    },
    // Declared but never trained: it has no production model.
    untrained: {
      dataset: 'd',
      task: 'binary',
      features: { amount: { type: 'numeric' } },
      trainer: { type: 'linear', hashBits: 10 },
    },
  },
} satisfies FreshetConfigInput

/** Instances a model trained on {@link learnableCsv} should score far apart. */
export const clearlyPositive = { message: 'win free cash prize claim winner', color: 'red', amount: 110 }
export const clearlyNegative = { message: 'meeting agenda report lunch notes', color: 'green', amount: 5 }

export interface TrainedWorkspace {
  platform: Platform
  dir: string
  /** The first training run: version 1, deployed to `production`. */
  trained: TrainOutcome
  dispose: () => Promise<void>
}

/**
 * A fresh workspace with dataset `d` ingested and pipeline `p` trained once for real (in the compiled child
 * process, so `npm run build` must have run): `production` points at version 1.
 */
export async function trainedWorkspace(): Promise<TrainedWorkspace> {
  const { platform, dir, dispose } = await tempPlatform(fixtureConfig)
  try {
    const file = path.join(dir, 'd.csv')
    await writeFile(file, learnableCsv())
    await ingestFile(platform, 'd', file)
    const trained = await trainAndRegister(platform, 'p', { actor: 'test' })
    return { platform, dir, trained, dispose }
  } catch (error) {
    await dispose()
    throw error
  }
}

/**
 * Registers a second version of `p` from version `from`'s artifact with different metrics, without moving any
 * alias: a cheap, real, loadable "new model".
 */
export async function registerCopy(platform: Platform, from: number): Promise<number> {
  const { model, manifest, weights } = await platform.registry.load('p', from)
  const copy = await platform.registry.register({
    pipeline: 'p',
    task: model.task,
    trainer: model.trainer,
    manifest,
    weights,
    metrics: { ...model.metrics, note: `copy of v${from}` },
    lineage: { ...model.lineage, parentVersion: from },
  })
  return copy.version
}
