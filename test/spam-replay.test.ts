import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { ingestFile } from '../src/data/ingest.js'
import { auc } from '../src/evaluation/metrics.js'
import { prepareSpam } from '../src/examples/spam.js'
import { Predictor } from '../src/serving/predictor.js'
import { trainAndRegister } from '../src/training/train.js'
import { tempPlatform } from './support/workspace.js'

// The course's spam case: spammers adapt, so a model trained once goes stale. Replayed by month on the real
// SpamAssassin corpus: a static model trained on the months up to June 2002 against a dynamic pipeline that warm-starts
// from its production model on every new month, behind a gate that compares it with production on the same holdout.
// Each model is scored on a month before that month is ingested: what it would have faced in production.
const features = {
  subject: { type: 'text', bigrams: true },
  body: { type: 'text', bigrams: true, maxTokens: 400 },
  from_domain: { type: 'categorical' },
} as const
const trainer = { type: 'linear', optimizer: 'ftrl', hashBits: 18 } as const

describe('spam replayed by month: static vs dynamic (warm start, gated)', () => {
  let platform: Platform
  let dispose: () => Promise<void>
  let dataDir: string
  beforeAll(async () => {
    ;({ platform, dispose, dir: dataDir } = await tempPlatform({
      datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } },
      pipelines: {
        static: { dataset: 'emails', task: 'binary', mode: 'static', features, trainer, split: { by: 'time', holdout: 0.2 } },
        dynamic: {
          dataset: 'emails',
          task: 'binary',
          mode: 'dynamic',
          features,
          trainer,
          training: { strategy: 'warm-start' },
          split: { by: 'time', holdout: 0.2 },
          gate: { metric: 'auc', maxRegression: 0.02 },
        },
      },
    }))
    dataDir = path.join(dataDir, 'data')
    await prepareSpam(dataDir)
  }, 120_000)
  afterAll(async () => dispose())

  it('the dynamic pipeline stays at least as good as the static model on the later months', async () => {
    const months = (await readdir(dataDir)).filter((f) => /^emails-\d{4}-\d{2}\.jsonl$/.test(f)).sort()
    const split = months.indexOf('emails-2002-07.jsonl')
    expect(split).toBeGreaterThan(0)
    for (const month of months.slice(0, split)) await ingestFile(platform, 'emails', path.join(dataDir, month))
    const first = await trainAndRegister(platform, 'static', { actor: 'test' })
    await trainAndRegister(platform, 'dynamic', { actor: 'test' })
    expect(first.deployed).toBe(true)

    const score = async (pipeline: string, rows: Record<string, unknown>[]): Promise<number> => {
      const version = await platform.registry.alias(pipeline, 'production')
      const predictor = await Predictor.load(platform.registry, pipeline, version ?? 0, platform.config.root)
      const { predictions } = predictor.predict(rows)
      return auc(rows.map((r) => (r.is_spam === true ? 1 : 0)), predictions)
    }
    const table: { month: string; rows: number; static: number; dynamic: number; dynamicVersion: number }[] = []
    for (const month of months.slice(split)) {
      const rows = (await readFile(path.join(dataDir, month), 'utf8'))
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      table.push({
        month: month.slice(7, 14),
        rows: rows.length,
        static: await score('static', rows),
        dynamic: await score('dynamic', rows),
        dynamicVersion: (await platform.registry.alias('dynamic', 'production')) ?? 0,
      })
      await ingestFile(platform, 'emails', path.join(dataDir, month))
      const outcome = await trainAndRegister(platform, 'dynamic', { actor: 'test' })
      expect(outcome.model.lineage).toMatchObject({ strategy: expect.objectContaining({ used: 'warm-start' }) as unknown })
    }
    console.log(
      ['month    rows  static  dynamic (version)', ...table.map((t) => `${t.month}  ${String(t.rows).padStart(4)}  ${t.static.toFixed(4)}  ${t.dynamic.toFixed(4)} (v${t.dynamicVersion})`)].join('\n'),
    )
    // July is the first month either has not seen; from August on, the dynamic pipeline has trained on what came since.
    const later = table.filter((t) => t.month >= '2002-08')
    for (const t of later) expect(t.dynamic, `AUC in ${t.month}`).toBeGreaterThanOrEqual(t.static)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(later.map((t) => t.dynamic))).toBeGreaterThan(mean(later.map((t) => t.static)))
  }, 600_000)
})
