import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareSpam } from '../src/examples/spam.js'
import type { Run } from '../src/orchestration/run-types.js'
import { Worker } from '../src/orchestration/worker.js'
import { tempPlatform } from './support/workspace.js'

// The online strategy on SpamAssassin: each run continues from production's FTRL state over the new rows in time
// order, one pass, each e-mail scored before it is learned; production is scored on the same e-mails as they came.
const live = {
  dataset: 'emails',
  task: 'binary',
  mode: 'dynamic',
  features: { subject: { type: 'text' }, body: { type: 'text', maxTokens: 200 }, from_domain: { type: 'categorical' } },
  trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 18 },
  training: { strategy: 'online' },
  gate: { metric: 'auc', maxRegression: 0.01 },
} as const
const config = {
  datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } },
  pipelines: { live, counting: { ...live, trainer: { type: 'naive-bayes', hashBits: 18 } } },
} satisfies FreshetConfigInput

interface Lineage {
  strategy: { requested: string; used: string; fallback: string | null }
  parentVersion: number | null
  rows: { train: number; holdout: number; progressive?: number }
  split: { by: string }
}

describe('the online strategy', () => {
  let platform: Platform
  let dispose: () => Promise<void>
  let months: string[]
  let dataDir: string
  beforeAll(async () => {
    let dir: string
    ;({ platform, dispose, dir } = await tempPlatform(config))
    dataDir = path.join(dir, 'data')
    await prepareSpam(dataDir)
    months = (await readdir(dataDir)).filter((f) => /^emails-\d{4}-\d{2}\.jsonl$/.test(f)).sort()
  }, 120_000)
  afterAll(async () => dispose())

  const run = async (pipeline: string): Promise<Run> => {
    const queued = await platform.runs.enqueue({ pipeline, trigger: { type: 'manual', actor: 'test' } })
    await new Worker(platform).runOnce()
    return platform.runs.get(queued.id)
  }

  it('learns each new month in one pass from production, evaluated progressively against production on the same e-mails', async () => {
    const july = months.indexOf('emails-2002-07.jsonl')
    for (const month of months.slice(0, july)) await ingestFile(platform, 'emails', path.join(dataDir, month))
    const first = await run('live')
    expect(first.state, JSON.stringify(first.error)).toBe('succeeded')
    expect(first.lineage as unknown as Lineage).toMatchObject({
      strategy: { requested: 'online', used: 'online', fallback: 'there is no production model to start from' },
      parentVersion: null,
      rows: { holdout: 0 },
      split: { by: 'progressive' },
    })
    expect(first.outcome).toMatchObject({ modelVersion: 1, deployed: true })

    await ingestFile(platform, 'emails', path.join(dataDir, months[july] as string))
    const second = await run('live')
    expect(second.state, JSON.stringify(second.error)).toBe('succeeded')
    const lineage = second.lineage as unknown as Lineage
    expect(lineage).toMatchObject({ strategy: { used: 'online', fallback: null }, parentVersion: 1, rows: { train: 1240, holdout: 0, progressive: 1240 } })
    // July as it came: production v1 frozen vs the model learning from each e-mail after scoring it.
    const gate = second.outcome?.gate
    const frozen = gate?.baseline?.value ?? Number.NaN
    const learning = gate?.value ?? Number.NaN
    console.log(`July 2002, 1,240 e-mails: production v1 frozen AUC ${frozen.toFixed(4)}, online (progressive) AUC ${learning.toFixed(4)}`)
    expect(gate?.baseline?.version).toBe(1)
    expect(learning).toBeGreaterThan(frozen)
    expect(second.outcome).toMatchObject({ modelVersion: 2, deployed: true, previousProduction: 1 })

    // Nothing new: an online run has nothing to learn.
    const idle = await run('live')
    expect(idle.state).toBe('failed')
    expect(idle.error?.message).toContain('online training has nothing new to train on')
  }, 300_000)

  it('needs the linear trainer', async () => {
    const refused = await run('counting')
    expect(refused.state).toBe('failed')
    expect(refused.error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('the online strategy needs the linear trainer, not naive-bayes') as unknown })
  })
})
