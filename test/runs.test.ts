import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { loadConfig } from '../src/config/load.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareSpam } from '../src/examples/spam.js'
import type { Run } from '../src/orchestration/run-types.js'
import type { RunStatistics } from '../src/orchestration/statistics.js'
import { Worker } from '../src/orchestration/worker.js'
import { startServer } from '../src/server/listen.js'
import { runCli } from './support/cli.js'

// Runs of the spam pipeline on the SpamAssassin corpus over real HTTP: start, follow (Server-Sent Events), cancel.

const token = 'runs-test-token-0123456789abcdef'
const config = {
  server: { token },
  datasets: { emails: { eventTime: 'sent_at', label: 'is_spam', id: 'message_id' } },
  pipelines: {
    spam: {
      dataset: 'emails',
      task: 'binary',
      features: {
        subject: { type: 'text' },
        body: { type: 'text', maxTokens: 200 },
        from_domain: { type: 'categorical' },
      },
      trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 18 },
      split: { by: 'time', holdout: 0.2 },
      gate: { metric: 'auc', min: 0.9 },
    },
  },
} satisfies FreshetConfigInput

let dir: string
let platform: Platform
let url: string
let close: () => Promise<void>
let worker: Worker

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-runs-'))
  await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
  platform = await openPlatform(await loadConfig(dir))
  const report = await prepareSpam(path.join(dir, 'data'))
  for (const file of report.files) await ingestFile(platform, 'emails', file.path)
  const server = await startServer(platform, {
    port: 0,
    runEvents: { heartbeatMs: 100, maxStreams: 3, pollMs: 200 },
  })
  url = server.url
  close = () => server.app.close()
  worker = new Worker(platform, { pollMs: 50 })
}, 180_000)
afterAll(async () => {
  await worker.stop()
  await close()
  await platform.close()
  await rm(dir, { recursive: true, force: true })
})

const auth = { authorization: `Bearer ${token}` }
const startRun = (body?: unknown, headers: Record<string, string> = auth) =>
  fetch(`${url}/api/v1/pipelines/spam/runs`, {
    method: 'POST',
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

interface Frame {
  event: string
  id?: string
  data?: unknown
  comment?: string
}

/** Reads a Server-Sent Events response frame by frame until the server closes it or `stop` says so. */
async function readFrames(
  response: Response,
  stop: (frames: Frame[]) => boolean = () => false,
): Promise<Frame[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const frames: Frame[] = []
  let text = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return frames
    text += decoder.decode(value, { stream: true })
    let end: number
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end)
      text = text.slice(end + 2)
      const frame: Frame = { event: 'message' }
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim()
        else if (line.startsWith('event: ')) frame.event = line.slice(7)
        else if (line.startsWith('id: ')) frame.id = line.slice(4)
        else if (line.startsWith('data: ')) frame.data = JSON.parse(line.slice(6)) as unknown
      }
      frames.push(frame)
      if (stop(frames)) {
        await reader.cancel()
        return frames
      }
    }
  }
}

describe('runs over HTTP on SpamAssassin', () => {
  it('POST without a token is refused; with one it answers 202 with the queued run, which GET returns', async () => {
    expect((await startRun(undefined, {})).status).toBe(401)
    expect((await startRun({ reason: 'x' }, { authorization: 'Bearer wrong' })).status).toBe(401)
    expect(await platform.runs.list()).toEqual([])

    const response = await startRun({ reason: 'first model' })
    expect(response.status).toBe(202)
    const run = (await response.json()) as Run
    expect(run).toMatchObject({
      pipeline: 'spam',
      state: 'queued',
      trigger: { type: 'manual', actor: 'api', reason: 'first model' },
    })
    expect(response.headers.get('location')).toBe(`/api/v1/runs/${run.id}`)
    const got = (await (await fetch(`${url}/api/v1/runs/${run.id}`)).json()) as Run & { statistics: unknown }
    expect(got).toMatchObject({ id: run.id, state: 'queued', statistics: null })
    expect(got.steps.map((s) => s.status)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending'])
    expect((await fetch(`${url}/api/v1/runs/r_0123456789ab`)).status).toBe(404)
    expect((await fetch(`${url}/api/v1/runs/..%2Fetc`)).status).toBe(404)
    expect((await fetch(`${url}/api/v1/pipelines/nope/runs`)).status).toBe(404)

    const result = await worker.runOnce()
    expect(result).toMatchObject({ runId: run.id, result: 'succeeded' })
    const list = (await (await fetch(`${url}/api/v1/pipelines/spam/runs`)).json()) as { runs: Run[] }
    expect(list.runs.map((r) => [r.id, r.state])).toEqual([[run.id, 'succeeded']])
  }, 120_000)

  it('streams progress and step events live, then a final done event with the statistics, and closes', async () => {
    const run = (await (await startRun({ reason: 'second model' })).json()) as Run
    const stream = await fetch(`${url}/api/v1/runs/${run.id}/events`)
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    const reading = readFrames(stream)
    worker.start()
    const frames = await reading.finally(() => worker.stop())
    const events = frames.filter((f) => f.comment === undefined)

    expect(events[0]).toMatchObject({ event: 'state', id: '1', data: { state: 'queued' } })
    const ids = events.filter((f) => f.id !== undefined).map((f) => Number(f.id))
    expect(ids).toEqual(ids.map((_, i) => i + 1))
    const progress = events
      .filter((f) => f.event === 'progress')
      .map(
        (f) =>
          f.data as {
            examples: number
            total: number
            fraction: number
            etaSeconds: number | null
            loss: number
          },
      )
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)).toMatchObject({ fraction: 1, etaSeconds: 0 })
    expect(progress.at(-1)?.examples).toBeGreaterThan(4000)
    const steps = events
      .filter((f) => f.event === 'step')
      .map((f) => f.data as { step: { name: string; status: string } })
    expect([...new Set(steps.filter((s) => s.step.status === 'succeeded').map((s) => s.step.name))]).toEqual([
      'resolve-data',
      'train',
      'evaluate',
      'register',
      'deploy',
    ])

    const done = events.at(-1)
    expect(done?.event).toBe('done')
    const stats = done?.data as RunStatistics
    expect(stats).toMatchObject({
      runId: run.id,
      state: 'succeeded',
      previousVersion: 1,
      model: { version: 2, status: 'registered' },
      deployed: true,
      gate: { passed: true, metric: 'auc' },
    })
    expect(stats.data.dataset).toBe('emails')
    expect(stats.data.batches).toBeGreaterThan(10)
    expect((stats.data.rows?.train ?? 0) + (stats.data.rows?.holdout ?? 0)).toBeGreaterThan(5000)
    expect(stats.data.eventTimes?.min?.slice(0, 2)).toBe('20')
    expect((stats.data.eventTimes?.min ?? '') < (stats.data.eventTimes?.max ?? '')).toBe(true)
    const auc = stats.metrics.find((m) => m.name === 'auc')
    expect(auc?.value).toBeGreaterThan(0.95)
    expect(auc?.previous).toBeGreaterThan(0.95)
    expect(typeof auc?.delta).toBe('number')
    expect(stats.steps.map((s) => s.name)).toEqual([
      'resolve-data',
      'train',
      'evaluate',
      'register',
      'deploy',
    ])
    expect(stats.steps.every((s) => typeof s.durationMs === 'number')).toBe(true)

    // A late subscriber gets the whole history and the same done event at once.
    const late = await readFrames(await fetch(`${url}/api/v1/runs/${run.id}/events`))
    expect(late.filter((f) => f.comment === undefined).map((f) => f.event)).toEqual(
      events.map((f) => f.event),
    )
    expect(late.at(-1)?.data).toEqual(stats)
    // Resuming after an event id replays only what followed it.
    const resumed = await readFrames(
      await fetch(`${url}/api/v1/runs/${run.id}/events`, {
        headers: { 'last-event-id': String(ids.length - 1) },
      }),
    )
    expect(resumed.filter((f) => f.comment === undefined).map((f) => f.id)).toEqual([
      String(ids.length),
      undefined,
    ])
  }, 120_000)

  it('cancels a queued run (authenticated), coalesces idempotent starts, and bounds the event streams (heartbeats, 429, clean up on close)', async () => {
    const headers = { ...auth, 'idempotency-key': 'dashboard-click-1' }
    const a = (await (await startRun(undefined, headers)).json()) as Run
    const b = (await (await startRun({ reason: 'double click' }, headers)).json()) as Run
    expect(b.id).toBe(a.id)

    const streams = [new AbortController(), new AbortController(), new AbortController()]
    const opened = await Promise.all(
      streams.map((c) => fetch(`${url}/api/v1/runs/${a.id}/events`, { signal: c.signal })),
    )
    expect(opened.map((r) => r.status)).toEqual([200, 200, 200])
    const fourth = await fetch(`${url}/api/v1/runs/${a.id}/events`)
    expect(fourth.status).toBe(429)
    expect(await fourth.json()).toMatchObject({ code: 'OVERLOADED' })
    const heartbeat = await readFrames(opened[0] as Response, (frames) =>
      frames.some((f) => f.comment === 'heartbeat'),
    )
    expect(heartbeat.some((f) => f.comment === 'heartbeat')).toBe(true)
    for (const c of streams) c.abort()
    // The server notices the closed connections and frees their places.
    const status = async () => {
      const c = new AbortController()
      const response = await fetch(`${url}/api/v1/runs/${a.id}/events`, { signal: c.signal })
      c.abort()
      return response.status
    }
    await expect.poll(status, { timeout: 5_000 }).toBe(200)
    expect(platform.runs.bus.listenedRuns).toBeLessThanOrEqual(1)

    const following = fetch(`${url}/api/v1/runs/${a.id}/events`).then((r) => readFrames(r))
    expect((await fetch(`${url}/api/v1/runs/${a.id}/cancel`, { method: 'POST' })).status).toBe(401)
    const cancel = await fetch(`${url}/api/v1/runs/${a.id}/cancel`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'clicked twice' }),
    })
    expect(cancel.status).toBe(202)
    expect(await cancel.json()).toMatchObject({
      id: a.id,
      state: 'cancelled',
      cancelReason: 'clicked twice (by api)',
    })
    const frames = await following
    expect(frames.at(-1)).toMatchObject({ event: 'done', data: { state: 'cancelled', model: null } })
    expect((await platform.queue.get(a.jobId)).state).toBe('cancelled')
  }, 60_000)

  it('freshet runs lists them and runs show prints the steps, outcome and metrics', async () => {
    const list = await runCli(['runs', 'spam'], { cwd: dir })
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/r_[0-9a-f]{12}\s+spam\s+cancelled\s+manual\/api/)
    expect(list.stdout).toMatch(/succeeded\s+manual\/api\s+\S+\s+\S+\s+v2 deployed \(production v1 -> v2\)/)
    const id = (await platform.runs.list({ state: 'succeeded', limit: 1 }))[0]?.id ?? ''
    const show = await runCli(['runs', 'show', id], { cwd: dir })
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain(`run ${id} of spam: succeeded (manual by api: second model)`)
    expect(show.stdout).toMatch(
      /resolve-data\s+succeeded\s+\S+\s+\S+\s+\d+ batches of emails, [\d,]+ rows, \d{4}-\d\d-\d\d to \d{4}-/,
    )
    expect(show.stdout).toMatch(
      /evaluate\s+succeeded\s+.*auc 0\.9\d+ \([+-]\d\.\d{4} vs production\); gate passed/,
    )
    expect(show.stdout).toMatch(/^auc\s+0\.9\d+\s+0\.9\d+/m)
    const json = JSON.parse((await runCli(['runs', 'show', id, '--json'], { cwd: dir })).stdout) as {
      statistics: RunStatistics
    }
    expect(json.statistics.model?.version).toBe(2)
    const cancel = await runCli(['runs', 'cancel', id], { cwd: dir })
    expect(cancel.stdout).toContain('had already finished (succeeded); nothing was changed')
  }, 60_000)
})
