import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
// @ts-expect-error the package ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { openDuck } from '../src/data/duckdb.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareFlights } from '../src/examples/flights.js'
import { checkPipeline, type MonitorCheck } from '../src/monitoring/monitor.js'
import type { MonitoringStatus } from '../src/monitoring/status.js'
import { signatureHeader } from '../src/monitoring/webhook.js'
import { Worker } from '../src/orchestration/worker.js'
import { buildServer } from '../src/server/app.js'
import { trainPipeline } from '../src/training/run-training.js'
import { tempPlatform } from './support/workspace.js'

/*
 * Monitoring on real data: a model of flight delays is trained on the first two weeks of vega-datasets' flights-3m
 * (January 2001), then four more weeks are replayed through the predict route of a real server, one week per
 * one-hour monitoring window (a sample of 1,500 flights each, labelled through feedback). In the fifth week an
 * upstream bug sends `distance` in kilometres. The drift rule must fire within that week's window: an alert
 * logged and POSTed, signed, to a real webhook receiver (which fails the first delivery, so it is retried), and
 * a retrain queued and run. It must resolve when the units are fixed.
 */

const secretEnv = 'FRESHET_TEST_MONITOR_SECRET'
const secret = 'a-webhook-secret-for-the-test'
const token = 'a-test-token-that-is-long-enough'
const windowMs = 3_600_000
const rowsPerWeek = 1500

interface Received {
  body: string
  signature: string | undefined
  status: number
}

let dataDir: string
let weeks: string[]
let receiver: Server
let receiverUrl: string
const received: Received[] = []
let platform: Platform
let dispose: () => Promise<void>
let app: FastifyInstance
let url: string
let clock = 0
const logLines: Record<string, unknown>[] = []
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  }),
)

beforeAll(async () => {
  process.env[secretEnv] = secret
  // The receiver answers 503 to the first delivery and 200 afterwards: the monitor must retry.
  receiver = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const status = received.length === 0 ? 503 : 200
      received.push({ body, signature: request.headers[signatureHeader] as string | undefined, status })
      response.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const address = receiver.address() as { port: number }
  receiverUrl = `http://127.0.0.1:${address.port}/hooks/freshet`

  dataDir = await mkdtemp(path.join(os.tmpdir(), 'freshet-monitor-flights-'))
  weeks = (await prepareFlights(path.join(dataDir, 'weeks'), { limitWeeks: 6 })).files.map((f) => f.path)
  expect(weeks).toHaveLength(6)

  const config = {
    datasets: { flights: { eventTime: 'date', label: 'delayed' } },
    pipelines: {
      delays: {
        dataset: 'flights',
        task: 'binary',
        features: { origin: { type: 'categorical' }, distance: { type: 'numeric' } },
        trainer: { type: 'linear', hashBits: 16 },
        monitoring: { window: '1h', minRows: 500 },
        monitors: [{ name: 'feature-drift', when: 'drift > 0.05', for: '10m', then: ['alert', 'retrain'] }],
        alerts: { webhook: { url: receiverUrl, secretEnv } },
      },
    },
  } satisfies FreshetConfigInput
  ;({ platform, dispose } = await tempPlatform(config))
  for (const file of weeks.slice(0, 2))
    expect((await ingestFile(platform, 'flights', file)).batch.state).toBe('accepted')

  // The same training code the trainer process runs, in this process: it records the serving baseline.
  const trained = await trainPipeline(platform, 'delays')
  const model = await platform.registry.register({
    pipeline: 'delays',
    task: 'binary',
    trainer: 'linear',
    manifest: trained.manifest as unknown as Record<string, unknown>,
    weights: trained.weights,
    metrics: trained.metrics,
    lineage: trained.lineage,
  })
  await platform.registry.moveAlias({
    pipeline: 'delays',
    alias: 'production',
    version: model.version,
    expected: null,
    actor: 'test',
    reason: 'first model',
  })

  clock = Math.floor(Date.now() / windowMs) * windowMs
  app = await buildServer(platform, {
    token,
    serving: { now: () => new Date(clock), predictionLog: { flushIntervalMs: 5 } },
  })
  url = await app.listen({ host: '127.0.0.1', port: 0 })
}, 300_000)

afterAll(async () => {
  await app?.close()
  await dispose?.()
  await new Promise((resolve) => receiver?.close(resolve))
  await rm(dataDir, { recursive: true, force: true })
  delete process.env[secretEnv]
})

/** A seeded sample of a week's flights as serving instances, with their labels. */
async function sampleWeek(file: string): Promise<{ origin: string; distance: number; delayed: number }[]> {
  const duck = await openDuck()
  try {
    const rows = await duck.rows(
      `SELECT origin, CAST(distance AS DOUBLE) AS distance, CAST(delayed AS INTEGER) AS delayed FROM read_parquet($1) USING SAMPLE reservoir(${rowsPerWeek} ROWS) REPEATABLE (42)`,
      [file],
    )
    return rows.map((r) => ({
      origin: String(r.origin),
      distance: Number(r.distance),
      delayed: Number(r.delayed),
    }))
  } finally {
    duck.close()
  }
}

/** Sends a week through :predict (and its labels through :feedback) and waits until the log has written it. */
async function replay(file: string, transform: (distance: number) => number = (d) => d): Promise<void> {
  const rows = await sampleWeek(file)
  const before = await countPredictions()
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500)
    const response = await fetch(`${url}/v1/models/delays:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        instances: chunk.map((r) => ({ origin: r.origin, distance: transform(r.distance) })),
      }),
    })
    expect(response.status).toBe(200)
    const answer = (await response.json()) as { predictionIds: string[]; modelVersion: number }
    await waitFor(async () => (await countPredictions()) >= before + i + chunk.length)
    const feedback = await fetch(`${url}/v1/models/delays:feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        feedback: answer.predictionIds.map((id, k) => ({ predictionId: id, label: chunk[k]!.delayed })),
      }),
    })
    expect(feedback.status, await feedback.clone().text()).toBe(200)
  }
}

async function countPredictions(): Promise<number> {
  const row = await platform.db
    .selectFrom('predictions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Awaits a condition the server makes true in the background (the prediction log's write), polling the database. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error('the prediction log did not write the predictions')
}

const check = (): Promise<MonitorCheck> =>
  checkPipeline(platform, 'delays', {
    now: () => new Date(clock),
    logger,
    webhook: { backoffMs: 20, attempts: 4 },
  })
/** Moves the clock to `minutes` into its current window. */
const at = (minutes: number) => {
  clock = clock - (clock % windowMs) + minutes * 60_000
}

describe('monitoring flights replayed by week through serving', () => {
  const checks: { week: string; first: MonitorCheck; second: MonitorCheck }[] = []

  it('normal weeks stay quiet; the week with distance in kilometres fires the drift rule within its window, alerts (signed webhook, retried) and retrains', async () => {
    for (const [i, file] of weeks.slice(2).entries()) {
      const week = path.basename(file)
      const kilometres = i === 2
      // Each week is served in its own one-hour window: 5 minutes in, then checked at 20 and 35 minutes.
      at(5)
      await replay(file, kilometres ? (d) => d * 1.609 : undefined)
      at(20)
      const first = await check()
      at(35)
      const second = await check()
      checks.push({ week, first, second })
      console.log(
        `${week}${kilometres ? ' (distance in km)' : ''}: ${second.window?.rows ?? 0} predictions, drift ${second.variables.drift?.toFixed(4)} ` +
          `(distance JS ${second.variables['drift.distance']?.toFixed(4)}, origin L∞ ${second.variables['drift.origin']?.toFixed(4)}), prediction drift ${second.variables.prediction_drift?.toFixed(4)}, ` +
          `online auc ${second.variables.auc?.toFixed(3)} logloss ${second.variables.logloss?.toFixed(3)}; rule ${first.rules[0]?.state} -> ${second.rules[0]?.state}`,
      )
      clock += windowMs
    }
    const [w3, w4, km, fixed] = checks
    for (const normal of [w3, w4]) {
      expect(normal!.second.window?.rows).toBe(rowsPerWeek)
      expect(normal!.second.variables.drift).toBeLessThan(0.1)
      expect(normal!.second.rules[0]).toMatchObject({ state: 'ok', event: null })
      // Labels came back through feedback: the model's online quality is measured per window.
      expect(normal!.second.window?.online.find((o) => o.version === 1)?.labelled).toBe(rowsPerWeek)
      expect(normal!.second.variables.logloss).toBeGreaterThan(0)
    }
    // The km week: true at 20 minutes (pending, for: 10m), firing at 35, inside the same window.
    expect(km!.first.rules[0]).toMatchObject({ state: 'pending', event: null })
    expect(km!.second.rules[0]?.state).toBe('firing')
    const event = km!.second.rules[0]!.event!
    expect(event.transition).toBe('firing')
    expect(event.values.drift as number).toBeGreaterThan(0.05)
    expect((event.values.window as { start: string }).start).toBe(km!.second.window!.start)
    expect(km!.second.variables['drift.distance']).toBeGreaterThan(0.05)
    expect(km!.second.variables['drift.origin']).toBeLessThan(0.05)
    expect(event.actions.map((a) => [a.action, a.ok])).toEqual([
      ['alert', true],
      ['retrain', true],
    ])

    // The alert: one structured log line ...
    const alerts = logLines.filter(
      (l) => (l.alert as { transition?: string } | undefined)?.transition === 'firing',
    )
    expect(alerts).toHaveLength(1)
    expect(alerts[0]).toMatchObject({
      level: 40,
      alert: { pipeline: 'delays', rule: 'feature-drift', condition: 'drift > 0.05' },
    })
    // ... and a signed POST, retried after the receiver's 503.
    expect(received.slice(0, 2).map((r) => r.status)).toEqual([503, 200])
    for (const r of received) {
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`)
      expect(r.signature !== undefined && timingSafeEqual(Buffer.from(r.signature), expected)).toBe(true)
    }
    const posted = JSON.parse(received[1]!.body) as {
      pipeline: string
      transition: string
      values: { drift: number }
    }
    expect(posted).toMatchObject({ pipeline: 'delays', transition: 'firing' })
    expect(posted.values.drift).toBeGreaterThan(0.05)

    // Fixed units: the rule resolves, and the resolution is announced (log and webhook), without a second retrain.
    expect(fixed!.first.rules[0]).toMatchObject({ state: 'ok', event: { transition: 'resolved' } })
    expect(JSON.parse(received.at(-1)!.body)).toMatchObject({ transition: 'resolved' })
    const runs = await platform.runs.list({ pipeline: 'delays' })
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatchObject({ trigger: { type: 'monitor', actor: 'freshet monitor' } })
    expect(runs[0]!.trigger.reason).toContain('feature-drift')
    expect(event.actions[1]!.data).toEqual({ runId: runs[0]!.id })
  }, 300_000)

  it('the queued retrain runs: a new version is trained and deployed', async () => {
    const [run] = await platform.runs.list({ pipeline: 'delays' })
    const worker = new Worker(platform, { pollMs: 50 })
    const result = await worker.runOnce()
    expect(result).toMatchObject({ runId: run!.id, result: 'succeeded' })
    expect(await platform.registry.alias('delays', 'production')).toBe(2)
  }, 300_000)

  it('GET /api/v1/monitoring/delays shows drift per feature over the windows, online quality, staleness and the rule', async () => {
    const response = await fetch(`${url}/api/v1/monitoring/delays?windows=10`)
    expect(response.status).toBe(200)
    const status = (await response.json()) as MonitoringStatus
    const measured = status.windows.filter((w) => w.rows > 0)
    expect(measured.length).toBeGreaterThanOrEqual(4)
    const byDrift = [...measured].sort((a, b) => (b.drift ?? 0) - (a.drift ?? 0))
    expect(byDrift[0]!.features.distance!.distance).toBeGreaterThan(0.05)
    expect(measured.every((w) => w.online.some((o) => o.version === 1 && o.labelled === rowsPerWeek))).toBe(
      true,
    )
    expect(status.staleness.newestData).toMatch(/^2001-01-/)
    expect(status.rules).toMatchObject([{ name: 'feature-drift', when: 'drift > 0.05', state: 'ok' }])
    expect(status.events.map((e) => e.transition)).toEqual(['resolved', 'firing'])
    expect((await fetch(`${url}/api/v1/monitoring/nope`)).status).toBe(404)
  })

  it('GET /metrics is Prometheus text another parser reads, with the predictions, latencies, drift, runs and data ages', async () => {
    const response = await fetch(`${url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const text = await response.text()
    const families = (
      parsePrometheusTextFormat as (
        text: string,
      ) => {
        name: string
        type: string
        metrics: {
          labels?: Record<string, string>
          value?: string
          buckets?: Record<string, string>
          count?: string
        }[]
      }[]
    )(text)
    const family = (name: string) => families.find((f) => f.name === name)
    const value = (name: string, labels: Record<string, string>) =>
      Number(
        family(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
          ?.value,
      )
    expect(value('freshet_predictions_total', { pipeline: 'delays', version: '1' })).toBe(4 * rowsPerWeek)
    // This parser folds a histogram's label sets into one; the +Inf bucket still counts every answered request.
    const latency = family('freshet_predict_duration_seconds')
    expect(latency?.type).toBe('HISTOGRAM')
    expect(Number(latency?.metrics[0]?.buckets?.['+Inf'])).toBe((4 * rowsPerWeek) / 500)
    expect(text).toContain(
      `freshet_predict_duration_seconds_count{pipeline="delays",version="1"} ${(4 * rowsPerWeek) / 500}`,
    )
    expect(
      value('freshet_predict_requests_total', { pipeline: 'delays', version: '1', status_code: '200' }),
    ).toBe((4 * rowsPerWeek) / 500)
    expect(value('freshet_batches', { dataset: 'flights', state: 'accepted' })).toBe(2)
    expect(value('freshet_runs_total', { pipeline: 'delays', state: 'succeeded' })).toBe(1)
    expect(Number(family('freshet_run_duration_seconds')?.metrics[0]?.buckets?.['+Inf'])).toBe(1)
    expect(value('freshet_queue_jobs', { state: 'queued' })).toBe(0)
    expect(value('freshet_monitor_firing', { pipeline: 'delays', rule: 'feature-drift' })).toBe(0)
    // Data from January 2001: decades old, and said so in seconds.
    expect(value('freshet_training_data_age_seconds', { pipeline: 'delays' })).toBeGreaterThan(
      20 * 365 * 86_400,
    )
    expect(value('freshet_model_age_seconds', { pipeline: 'delays', version: '2' })).toBeGreaterThanOrEqual(0)
    expect(
      family('freshet_http_requests_total')?.metrics.some(
        (m) => m.labels?.route === '/api/v1/monitoring/:pipeline',
      ),
    ).toBe(true)
  })
})
