import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { listBatches } from '../src/data/batches.js'
import { ingestFile } from '../src/data/ingest.js'
import { buildServer } from '../src/server/app.js'
import { trainAndRegister } from '../src/training/train.js'
import { decide, listQuarantine } from '../src/validation/quarantine.js'
import { runCli } from './support/cli.js'
import { tempPlatform } from './support/workspace.js'

/** Rows with a learnable pattern: y = 1 when x > 50 or cat is 'a'. Deterministic. */
function csv(start: number, n: number, change: (row: { id: number; x: number; cat: string; y: number | '' }) => void = () => undefined): string {
  const lines = ['id,ts,x,cat,y']
  for (let i = start; i < start + n; i++) {
    const x = (i * 37) % 100
    const cat = ['a', 'b', 'c'][i % 3] as string
    const row: { id: number; x: number; cat: string; y: number | '' } = { id: i, x, cat, y: x > 50 || cat === 'a' ? 1 : 0 }
    change(row)
    lines.push(`${row.id},${new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString()},${row.x},${row.cat},${row.y}`)
  }
  return lines.join('\n') + '\n'
}

const config = {
  datasets: {
    events: { eventTime: 'ts', label: 'y', id: 'id' },
    split: { eventTime: 'ts', label: 'y', id: 'id', validation: { onBadRows: 'split' as const, maxBadRowFraction: 0.1 } },
  },
  pipelines: { clicks: { dataset: 'events', task: 'binary' as const, features: { x: { type: 'numeric' as const }, cat: { type: 'categorical' as const } }, trainer: { type: 'linear' as const, hashBits: 12 } } },
}
const token = 'quarantine-test-token-0123456789'

let platform: Platform
let dir: string
let dispose: () => Promise<void>
let bad: string

beforeAll(async () => {
  ;({ platform, dir, dispose } = await tempPlatform(config))
  await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
  for (const [i, start] of [0, 400, 800].entries()) {
    const file = path.join(dir, `good${i}.csv`)
    await writeFile(file, csv(start, 400))
    const r = await ingestFile(platform, 'events', file)
    expect(r.batch.state, JSON.stringify(r.anomalies)).toBe('accepted')
  }
  bad = path.join(dir, 'scaled.csv')
  await writeFile(bad, csv(1200, 400, (row) => (row.x *= 100)))
}, 60_000)
afterAll(async () => dispose())

describe('quarantine', () => {
  it('ingest exits 3 and says which anomalies, where and what to do; the batch is kept but never trained on', async () => {
    const run = await runCli(['ingest', 'events', bad], { cwd: dir })
    expect(run.code, run.stderr).toBe(3)
    expect(run.stdout).toMatch(/QUARANTINED .*scaled\.csv -> batch b_[0-9a-f]{16}: 400 rows kept aside/)
    expect(run.stdout).toMatch(/BLOCKING (DRIFT|OUT_OF_RANGE) x:/)
    expect(run.stdout).toContain('freshet quarantine show')

    const [waiting] = await listQuarantine(platform, 'events')
    expect(waiting?.batch.sourceName).toBe('scaled.csv')
    const codes = waiting?.anomalies.filter((a) => a.severity === 'blocking').map((a) => a.code)
    expect(codes).toEqual(expect.arrayContaining(['OUT_OF_RANGE']))
    expect(waiting?.report?.scores.x?.drift?.value).toBeGreaterThan(0.02)
    expect(waiting?.report?.scores.cat?.drift?.metric).toBe('linf')

    const outcome = await trainAndRegister(platform, 'clicks')
    const used = (outcome.model.lineage.batches as { id: string }[]).map((b) => b.id)
    expect(used).toHaveLength(3)
    expect(used).not.toContain(waiting?.batch.id)
  }, 60_000)

  it('is listed, shown, and released over HTTP only with a token and a reason; the decision is recorded', async () => {
    const app = await buildServer(platform, { token })
    try {
      const list = (await app.inject({ url: '/api/v1/quarantine' })).json<{ batches: { batch: { id: string } }[] }>()
      const id = list.batches[0]?.batch.id ?? ''
      expect((await app.inject({ url: `/api/v1/quarantine/${id}` })).json()).toMatchObject({ batch: { id, state: 'quarantined' } })
      expect((await app.inject({ method: 'POST', url: `/api/v1/quarantine/${id}/release`, payload: { reason: 'x' } })).statusCode).toBe(401)
      const auth = { authorization: `Bearer ${token}` }
      expect((await app.inject({ method: 'POST', url: `/api/v1/quarantine/${id}/release`, headers: auth, payload: {} })).statusCode).toBe(400)
      const released = await app.inject({ method: 'POST', url: `/api/v1/quarantine/${id}/release`, headers: auth, payload: { reason: 'prices are in cents from now on', actor: 'dana' } })
      expect(released.statusCode, released.body).toBe(200)
      expect(released.json()).toMatchObject({ batch: { state: 'released' }, history: [{ action: 'quarantine' }, { action: 'release', actor: 'api:dana', reason: 'prices are in cents from now on' }] })
      expect((await app.inject({ method: 'POST', url: `/api/v1/quarantine/${id}/discard`, headers: auth, payload: { reason: 'again' } })).json()).toMatchObject({ code: 'BATCH_STATE' })
    } finally {
      await app.close()
    }
    const outcome = await trainAndRegister(platform, 'clicks')
    expect(outcome.model.lineage.batches).toHaveLength(4)
  }, 60_000)

  it('discard keeps the bytes for audit and never trains on them; the CLI lists and shows', async () => {
    const file = path.join(dir, 'nulls.csv')
    await writeFile(file, csv(2000, 400, (row) => { if (row.id % 3 === 0) row.x = Number.NaN }).replaceAll(',NaN,', ',,'))
    const result = await ingestFile(platform, 'events', file)
    expect(result.batch.state).toBe('quarantined')
    expect(result.anomalies).toContainEqual(expect.objectContaining({ code: 'MISSING_FRACTION', column: 'x', severity: 'blocking' }))

    const list = await runCli(['quarantine', 'list'], { cwd: dir })
    expect(list.stdout).toContain(result.batch.id)
    expect(list.stdout).toContain('MISSING_FRACTION x')
    const show = await runCli(['quarantine', 'show', result.batch.id], { cwd: dir })
    expect(show.stdout).toMatch(/blocking\s+MISSING_FRACTION\s+x/)
    const noReason = await runCli(['quarantine', 'discard', result.batch.id], { cwd: dir })
    expect(noReason.code).toBe(2)
    const discard = await runCli(['quarantine', 'discard', result.batch.id, '--reason', 'upstream export bug, re-sent'], { cwd: dir, env: { FRESHET_ACTOR: 'sam' } })
    expect(discard.code, discard.stderr).toBe(0)
    expect(discard.stdout).toContain('discarded by sam')

    await decide(platform, result.batch.id, 'discard', { actor: 'x', reason: 'y' }).catch((e: unknown) => expect(e).toMatchObject({ code: 'BATCH_STATE' }))
    const states = (await listBatches(platform.db, 'events')).map((b) => b.state)
    expect(states).toEqual(['accepted', 'accepted', 'accepted', 'released', 'discarded'])
    expect((await platform.blobs.get(result.batch.originalKey)).length).toBeGreaterThan(1000)
  }, 60_000)

  it("onBadRows 'split' moves only the bad rows, with their row numbers, into a quarantined sub-batch", async () => {
    const first = path.join(dir, 'split0.csv')
    await writeFile(first, csv(0, 400))
    await ingestFile(platform, 'split', first)
    const file = path.join(dir, 'split1.csv')
    await writeFile(file, csv(400, 400, (row) => { if (row.id % 50 === 0) row.y = '' }))
    const result = await ingestFile(platform, 'split', file)
    expect(result.batch).toMatchObject({ state: 'accepted', rows: 392 })
    expect(result.split?.quarantined).toMatchObject({ state: 'quarantined', rows: 8, parentId: result.batch.id })
    expect(result.anomalies).toContainEqual(expect.objectContaining({ code: 'LABEL_MISSING', column: 'y', value: 8, examples: [1, 51, 101, 151, 201, 251, 301, 351] }))
  }, 60_000)
})
