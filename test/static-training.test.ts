import { readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { categorical, text } from '../src/features/helpers.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareSpam } from '../src/examples/spam.js'
import { trainAndRegister } from '../src/training/train.js'
import type { BinaryMetrics } from '../src/evaluation/metrics.js'
import { runCli } from './support/cli.js'
import { tempPlatform } from './support/workspace.js'

const features = { subject: text({ bigrams: true }), body: text({ bigrams: true, maxTokens: 400 }), from_domain: categorical() }
const base = { dataset: 'emails', task: 'binary', features, split: { by: 'time', holdout: 0.2 } } as const

let platform: Platform
let dir: string
let dispose: () => Promise<void>

beforeAll(async () => {
  ;({ platform, dir, dispose } = await tempPlatform({
    datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } },
    pipelines: {
      spam: { ...base, trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 20 }, gate: { metric: 'auc', min: 0.95 } },
      spam_nb: { ...base, trainer: { type: 'naive-bayes', hashBits: 20 }, deploy: { auto: false } },
      strict: { ...base, trainer: { type: 'linear', hashBits: 12 }, gate: { metric: 'auc', min: 0.99999 } },
    },
  }))
  const report = await prepareSpam(path.join(dir, 'data'))
  for (const file of report.files) await ingestFile(platform, 'emails', file.path)
}, 120_000)
afterAll(async () => dispose())

describe('static training on SpamAssassin (time-based holdout: the last 20% of messages by date)', () => {
  it('linear reaches AUC >= 0.98 and F1 >= 0.93, is registered and becomes production; both built-ins are reported', async () => {
    const linear = await trainAndRegister(platform, 'spam')
    const nb = await trainAndRegister(platform, 'spam_nb')
    const row = (name: string, m: BinaryMetrics) => `${name.padEnd(12)} auc ${m.auc.toFixed(4)}  logloss ${m.logLoss.toFixed(4)}  f1@0.5 ${m.atHalf.f1.toFixed(4)}  best f1 ${m.bestF1.f1.toFixed(4)}`
    console.log(`${row('linear', linear.evaluation as BinaryMetrics)}\n${row('naive-bayes', nb.evaluation as BinaryMetrics)}`)

    const m = linear.evaluation as BinaryMetrics
    expect(m.auc).toBeGreaterThanOrEqual(0.98)
    expect(m.atHalf.f1).toBeGreaterThanOrEqual(0.93)
    expect(linear.model.version).toBe(1)
    expect(linear.deployed).toBe(true)
    expect(await platform.registry.alias('spam', 'production')).toBe(1)
    const lineage = linear.model.lineage as { batches: { sha256: string }[]; rows: { train: number; holdout: number }; configHash: string }
    expect(lineage.batches.length).toBeGreaterThan(10)
    expect(lineage.batches.every((b) => /^[0-9a-f]{64}$/.test(b.sha256))).toBe(true)
    expect(lineage.rows.holdout / (lineage.rows.train + lineage.rows.holdout)).toBeCloseTo(0.2, 2)
    expect(lineage.configHash).toMatch(/^[0-9a-f]{64}$/)

    expect((nb.evaluation as BinaryMetrics).auc).toBeGreaterThan(0.95)
    expect(nb.deployed).toBe(false)
    expect(await platform.registry.alias('spam_nb', 'production')).toBeUndefined()
  }, 120_000)

  it('a model that fails its gate is registered as rejected and not deployed', async () => {
    const outcome = await trainAndRegister(platform, 'strict')
    expect(outcome.gate.passed).toBe(false)
    expect(outcome.gate.reasons[0]).toMatch(/auc 0\.\d+ is below the gate's minimum of 0\.99999/)
    expect(outcome.model.status).toBe('rejected')
    expect(outcome.deployed).toBe(false)
    expect(await platform.registry.alias('strict', 'production')).toBeUndefined()
  }, 120_000)
})

describe('trainer crash isolation', () => {
  async function crashing(name: string, body: string): Promise<{ platform: Platform; dispose: () => Promise<void> }> {
    const ws = await tempPlatform({ datasets: { d: { eventTime: 't', label: 'y' } }, pipelines: { p: { dataset: 'd', task: 'binary', features: { x: { type: 'numeric' } }, trainer: { type: 'custom', module: `./${name}.mjs` } } } })
    await writeFile(path.join(ws.dir, `${name}.mjs`), `export default { type: '${name}', fit() { ${body} }, predict() { return new Float64Array(0) } }\n`)
    const csv = path.join(ws.dir, 'd.csv')
    await writeFile(csv, 't,x,y\n' + Array.from({ length: 20 }, (_, i) => `2024-01-${String(i + 1).padStart(2, '0')}T00:00:00Z,${i},${i % 2}`).join('\n') + '\n')
    await ingestFile(ws.platform, 'd', csv)
    return ws
  }

  it('reports a trainer that exits, throws or runs out of memory, and keeps the caller alive with nothing registered', async () => {
    const cases = [
      { name: 'exits', body: 'process.exit(3)', expected: /exited with code 3 before finishing/ },
      { name: 'throws', body: "throw new Error('gradient exploded')", expected: /gradient exploded/ },
      { name: 'hogs', body: 'const keep = []; for (;;) keep.push(new Array(1e6).fill(1.5))', expected: /ran out of memory \(heap limit 64 MiB\)/ },
    ]
    for (const c of cases) {
      const ws = await crashing(c.name, c.body)
      try {
        const error = await trainAndRegister(ws.platform, 'p', { maxHeapMb: 64 }).catch((e: unknown) => e)
        expect(error, c.name).toMatchObject({ code: 'TRAINING_FAILED', message: expect.stringMatching(c.expected) as unknown })
        expect(await ws.platform.registry.versions('p'), c.name).toEqual([])
      } finally {
        await ws.dispose()
      }
    }
  }, 120_000)
})

describe('freshet train, models and predict', () => {
  it('train prints the evaluation, models lists the version, predict scores with production', async () => {
    const ws = path.join(dir, 'cli')
    const init = await runCli(['init', ws, '--example', 'spam'], { cwd: dir })
    expect(init.code, init.stderr).toBe(0)
    const files = (await readdir(path.join(ws, 'data', 'emails'))).filter((f) => f.startsWith('emails-')).map((f) => path.join('data', 'emails', f))
    expect((await runCli(['ingest', 'emails', ...files], { cwd: ws })).code).toBe(0)

    const train = await runCli(['train', 'spam', '--wait'], { cwd: ws })
    expect(train.code, train.stderr).toBe(0)
    expect(train.stdout).toMatch(/spam v1 trained in [\d.]+s on \d+ rows from \d+ batches/)
    expect(train.stdout).toMatch(/best F1\s+0\.\d+/)
    expect(train.stdout).toContain('production: none -> v1')
    expect(train.stderr).toContain('evaluate  evaluating on')

    const models = await runCli(['models', 'spam'], { cwd: ws })
    expect(models.stdout).toMatch(/^\s*1\s+production\s+registered\s+linear/m)

    const spam = { subject: 'WIN a FREE prize now', body: 'Click here to claim your cash prize, limited offer', from_domain: 'lucky.biz' }
    const ham = { subject: 'Re: patch for the build', body: 'I tested the patch against the kernel tree and it builds fine', from_domain: 'linux.ie' }
    const predict = await runCli(['predict', 'spam', '--json', JSON.stringify([spam, ham])], { cwd: ws })
    expect(predict.code, predict.stderr).toBe(0)
    const out = JSON.parse(predict.stdout) as { predictions: number[]; modelVersion: number }
    expect(out.modelVersion).toBe(1)
    expect(out.predictions[0]).toBeGreaterThan(out.predictions[1] as number)

    const bad = await runCli(['predict', 'spam', '--json', '{"subject": 1}'], { cwd: ws })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('instances[0].subject: expected a string, got 1')
  }, 180_000)
})
