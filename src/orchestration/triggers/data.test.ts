import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../../app/platform.js'
import { configFromObject } from '../../config/load.js'
import { ingestFile } from '../../data/ingest.js'
import { evaluateDataTrigger } from './data.js'
import type { DataTriggerSpec } from './specs.js'

let platform: Platform
let dir: string
let clock: Date
let files = 0

const features = { x: { type: 'numeric' } } as const
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-data-trigger-'))
  clock = new Date('2026-03-01T00:00:00Z')
  platform = await openPlatform(
    configFromObject(
      {
        datasets: { d: { eventTime: 't', label: 'y' } },
        pipelines: {
          p: { dataset: 'd', task: 'binary', features, trainer: { type: 'linear', hashBits: 10 } },
        },
      },
      dir,
    ),
    { now: () => clock },
  )
})
afterEach(async () => {
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

/** Ingests a batch of `n` new rows. */
async function land(n: number): Promise<string> {
  const file = path.join(dir, `f${++files}.csv`)
  const body = Array.from(
    { length: n },
    (_, i) => `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z,${files * 1000 + i},${i % 2}`,
  )
  await writeFile(file, `t,x,y\n${body.join('\n')}\n`)
  return (await ingestFile(platform, 'd', file)).batch.id
}

/** What a worker's resolve-data step records, without training: the run pinned `batchIds` and finished. */
async function finish(runId: string, batchIds: string[]): Promise<void> {
  const at = clock.toISOString()
  await platform.db
    .updateTable('runs')
    .set({ state: 'succeeded', started_at: at, finished_at: at })
    .where('id', '=', runId)
    .execute()
  await platform.db
    .updateTable('run_steps')
    .set({ status: 'succeeded', details: JSON.stringify({ batchIds }) })
    .where('run_id', '=', runId)
    .where('name', '=', 'resolve-data')
    .execute()
  const run = await platform.runs.get(runId)
  await platform.db.updateTable('jobs').set({ state: 'succeeded' }).where('id', '=', run.jobId).execute()
}

const evaluate = (trigger: Omit<DataTriggerSpec, 'on'>) =>
  evaluateDataTrigger(platform, 'p', 'd', { on: 'data', ...trigger }, clock)
const later = (ms: number) => (clock = new Date(clock.getTime() + ms))
const runCount = async () => (await platform.runs.list({ pipeline: 'p' })).length

describe('data trigger', () => {
  it('fires once minNewRows new rows arrived, with the rows and batches in its details', async () => {
    const first = await land(10)
    expect(await evaluate({ minNewRows: 15 })).toMatchObject({ newRows: 10, due: null, run: null })
    const second = await land(10)
    const decision = await evaluate({ minNewRows: 15 })
    expect(decision).toMatchObject({
      newRows: 20,
      newBatches: [first, second],
      due: 'min-new-rows',
      blocked: null,
    })
    expect(decision.run).toMatchObject({
      state: 'queued',
      idempotencyKey: `data:p:${second}`,
      trigger: { type: 'data', details: { newRows: 20, batches: [first, second] } },
    })
  })

  it('coalesces evaluations that see the same data into one run', async () => {
    await land(5)
    const a = await evaluate({ maxConcurrent: 3 })
    const b = await evaluate({ maxConcurrent: 3 })
    const c = await evaluate({})
    expect(b.run?.id).toBe(a.run?.id)
    expect(c.run?.id).toBe(a.run?.id)
    expect(await runCount()).toBe(1)
  })

  it('counts only rows no run of the pipeline has pinned', async () => {
    const first = await land(10)
    const run = (await evaluate({ minNewRows: 5 })).run
    await finish(run?.id ?? '', [first])
    expect(await evaluate({ minNewRows: 5 })).toMatchObject({ newRows: 0, due: null, run: null })
    await land(3)
    expect(await evaluate({ minNewRows: 5 })).toMatchObject({ newRows: 3, due: null })
    await land(3)
    expect((await evaluate({ minNewRows: 5 })).run?.trigger.details).toMatchObject({ newRows: 6 })
  })

  it('waits for the cooldown since the last run started', async () => {
    const first = await land(10)
    const run = (await evaluate({ cooldown: '5m' })).run
    expect(run).not.toBeNull()
    await finish(run?.id ?? '', [first])
    later(60_000)
    await land(10)
    expect(await evaluate({ cooldown: '5m' })).toMatchObject({
      due: 'min-new-rows',
      blocked: 'cooldown',
      run: null,
    })
    later(4 * 60_000)
    expect(await evaluate({ cooldown: '5m' })).toMatchObject({ blocked: null, run: { state: 'queued' } })
    expect(await runCount()).toBe(2)
  })

  it('starts no more than maxConcurrent runs of the pipeline', async () => {
    await land(10)
    const first = await evaluate({})
    await land(10)
    expect(await evaluate({})).toMatchObject({ due: 'min-new-rows', blocked: 'max-concurrent', run: null })
    const second = await evaluate({ maxConcurrent: 2 })
    expect(second.run?.id).not.toBe(first.run?.id)
    await land(10)
    expect(await evaluate({ maxConcurrent: 2 })).toMatchObject({ blocked: 'max-concurrent' })
    expect(await runCount()).toBe(2)
  })

  it('with an interval, fires on fewer rows once the interval since the last run elapsed', async () => {
    const first = await land(10)
    const run = (await evaluate({ minNewRows: 1000, interval: '1h' })).run
    expect(run?.trigger.details).toMatchObject({ due: 'interval' })
    await finish(run?.id ?? '', [first])
    await land(10)
    later(30 * 60_000)
    expect(await evaluate({ minNewRows: 1000, interval: '1h' })).toMatchObject({ newRows: 10, due: null })
    later(31 * 60_000)
    expect(await evaluate({ minNewRows: 1000, interval: '1h' })).toMatchObject({
      due: 'interval',
      run: { state: 'queued' },
    })
  })
})
