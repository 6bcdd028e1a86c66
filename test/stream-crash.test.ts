import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { loadConfig } from '../src/config/load.js'
import { listBatches } from '../src/data/batches.js'
import { streamStatus, windowBatchId } from '../src/streaming/stream-source.js'
import { publish } from '../src/streaming/topics.js'
import { delay, pollUntil, startCli, type CliProcess } from './support/processes.js'

// A real `freshet up` consumes a topic into one-minute windows while this test publishes to it, and is killed with
// SIGKILL at several points (right after start, in the middle of publishing, right after a window batch was
// announced). After the last restart every window must be exactly one batch holding exactly its 60 events.

const perWindow = 60
const windows = 40
const base = Date.parse('2026-01-01T00:00:00Z')
const event = (i: number) => ({ user: `u${i % 7}`, at: new Date(base + i * 1000).toISOString(), price: i })

let dir: string
let platform: Platform
const started: CliProcess[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-stream-crash-'))
  await writeFile(
    path.join(dir, 'freshet.config.json'),
    JSON.stringify({
      topics: { clicks: { schema: { user: 'string', at: 'timestamp', price: 'number' }, eventTime: 'at' } },
      datasets: { clicks: { eventTime: 'at', stream: { topic: 'clicks', window: '1m' } } },
    }),
  )
  platform = await openPlatform(await loadConfig(dir))
})
afterAll(async () => {
  for (const p of started) p.killGroup()
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

function up(): CliProcess {
  const p = startCli(['up', '--port', '0'], { cwd: dir, env: { FRESHET_TOKEN: 'stream-crash-test-token-0123' } })
  started.push(p)
  return p
}

/** Publishes events [from, to) in chunks of 50 with idempotency keys, so a publish repeated after a kill stores nothing twice. */
async function publishRange(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 50) {
    const end = Math.min(i + 50, to)
    await publish(platform, 'clicks', Array.from({ length: end - i }, (_, k) => event(i + k)), { idempotencyKey: `chunk-${i}`, firstIndex: 0 })
  }
}

it('after kill -9 at several points, every window is exactly one batch with exactly its events', async () => {
  const total = perWindow * windows
  const killPoints: ((p: CliProcess, published: Promise<void>) => Promise<void>)[] = [
    async (p) => void (await p.waitForOutput(/stream: consuming/, 60_000)),
    async (p) => void (await p.waitForOutput(/window \S+ v1: batch \S+ accepted/, 120_000)),
    async (_p, published) => published,
    async (p) => {
      await p.waitForOutput(/stream: consuming/, 60_000)
      await delay(700)
    },
  ]
  const slice = Math.ceil(total / killPoints.length)
  for (const [round, killPoint] of killPoints.entries()) {
    const p = up()
    await p.waitForOutput(/Freshet is serving/, 60_000)
    const published = publishRange(round * slice, Math.min(total, (round + 1) * slice))
    await killPoint(p, published)
    p.signal('SIGKILL')
    await p.exited
    await published
  }
  // One event past the last window closes it.
  await publish(platform, 'clicks', [event(total)], { idempotencyKey: 'closer' })
  const last = up()
  await pollUntil(
    'every window sealed',
    async () => {
      const status = await streamStatus(platform, 'clicks', 1000)
      const sealed = status.windows.filter((w) => w.versions.some((v) => v.state === 'sealed'))
      return status.consumer.lag === 0 && status.totals.pendingVersions === 0 && sealed.length === windows ? status : undefined
    },
    240_000,
    200,
  )
  last.signal('SIGTERM')
  await last.exited

  const status = await streamStatus(platform, 'clicks', 1000)
  expect(status.totals).toEqual({ onTime: total + 1, late: 0, tooLate: 0, pendingVersions: 0 })
  const batches = await listBatches(platform.db, 'clicks')
  expect(batches.length).toBe(windows)
  for (let w = 0; w < windows; w += 1) {
    const id = windowBatchId('clicks', 'clicks', base + w * 60_000, 1)
    const batch = batches.find((b) => b.id === id)
    expect({ window: w, rows: batch?.rows, state: batch?.state }).toEqual({ window: w, rows: perWindow, state: 'accepted' })
  }
  expect(batches.reduce((sum, b) => sum + b.rows, 0)).toBe(total)
}, 600_000)
