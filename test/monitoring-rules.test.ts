import { createServer, type Server } from 'node:http'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { ingestFile } from '../src/data/ingest.js'
import { checkPipeline, startMonitor, type MonitorCheck } from '../src/monitoring/monitor.js'
import type { MonitoringStatus } from '../src/monitoring/status.js'
import { deliverWebhook } from '../src/monitoring/webhook.js'
import { deployVersion } from '../src/registry/deploys.js'
import { buildServer } from '../src/server/app.js'
import { trainAndRegister } from '../src/training/train.js'
import { runCli } from './support/cli.js'
import {
  clearlyNegative,
  clearlyPositive,
  fixtureConfig,
  learnableCsv,
  registerCopy,
} from './support/trained-model.js'
import { tempPlatform } from './support/workspace.js'

/*
 * Rules and actions on a small trained pipeline: a version that starts failing its predict requests is rolled back
 * by an error-rate rule, with the reason and the values recorded; stale training data raises an alert; a webhook
 * whose secret is missing is not sent unsigned; deliveries give up after their bounded retries; the evaluator
 * loop runs and stops; `freshet monitor` prints the same state.
 */

const token = 'a-test-token-that-is-long-enough'
const config = {
  datasets: fixtureConfig.datasets,
  pipelines: {
    p: {
      ...fixtureConfig.pipelines.p,
      monitoring: { window: '1h', minRows: 20, staleness: { data: '2d', deploy: '7d' } },
      monitors: [
        { name: 'errors', when: 'error_rate > 0.2', then: ['alert', 'rollback'] },
        { name: 'stale-data', when: 'staleness.data > 2d', then: ['alert'] },
      ],
      alerts: {
        webhook: { url: 'http://127.0.0.1:9/unused', secretEnv: 'FRESHET_TEST_SECRET_THAT_IS_NOT_SET' },
      },
    },
  },
} satisfies FreshetConfigInput

let platform: Platform
let dir: string
let dispose: () => Promise<void>
let app: FastifyInstance
let url: string
let clock = Date.now()
const logLines: Record<string, unknown>[] = []
const logger = pino(
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  }),
)

beforeAll(async () => {
  ;({ platform, dir, dispose } = await tempPlatform(config))
  await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
  const file = path.join(dir, 'd.csv')
  await writeFile(file, learnableCsv())
  await ingestFile(platform, 'd', file)
  await trainAndRegister(platform, 'p', { actor: 'test' })
  const v2 = await registerCopy(platform, 1)
  await deployVersion(platform.registry, { pipeline: 'p', version: v2, actor: 'test', reason: 'try v2' })
  clock = Date.now() + 1000
  app = await buildServer(platform, {
    token,
    serving: { now: () => new Date(clock), predictionLog: { flushIntervalMs: 5 } },
  })
  url = await app.listen({ host: '127.0.0.1', port: 0 })
}, 180_000)

afterAll(async () => {
  await app?.close()
  await dispose?.()
})

async function predict(instances: unknown[]): Promise<number> {
  const response = await fetch(`${url}/v1/models/p:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances }),
  })
  await response.body?.cancel()
  return response.status
}

/** Waits until the prediction log has written `requests` requests of version 2 (it writes in the background). */
async function written(requests: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const row = await platform.db
      .selectFrom('serving_counts')
      .select((eb) => eb.fn.sum<number>('requests').as('n'))
      .where('pipeline', '=', 'p')
      .where('version', '=', 2)
      .executeTakeFirst()
    if (Number(row?.n ?? 0) >= requests) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error('the prediction log did not write the requests')
}

describe('monitor rules and actions', () => {
  let check: MonitorCheck

  it('a version failing its requests is rolled back by the error-rate rule, with the values and the reason recorded', async () => {
    for (let i = 0; i < 10; i++)
      expect(await predict([i % 2 === 0 ? clearlyPositive : clearlyNegative])).toBe(200)
    // An upstream change: clients stop sending `amount`, and every request is refused.
    for (let i = 0; i < 30; i++) expect(await predict([{ message: 'hello', color: 'red' }])).toBe(400)
    await written(40)
    check = await checkPipeline(platform, 'p', {
      now: () => new Date(clock),
      logger,
      webhook: { attempts: 1 },
    })
    expect(check.variables.error_rate).toBeCloseTo(30 / 40, 6)
    const errors = check.rules.find((r) => r.rule === 'errors')!
    expect(errors.state).toBe('firing')
    expect(errors.event?.values).toMatchObject({ error_rate: 0.75, window: { version: 2, rows: 10 } })
    const actions = errors.event!.actions
    expect(actions.map((a) => [a.action, a.ok])).toEqual([
      ['alert', false],
      ['rollback', true],
    ])
    // The webhook needs its secret: the alert is logged but never sent unsigned.
    expect(actions[0]!.detail).toContain('FRESHET_TEST_SECRET_THAT_IS_NOT_SET')
    expect(actions[1]!.data).toEqual({ from: 2, to: 1 })
    expect(await platform.registry.alias('p', 'production')).toBe(1)
    const move = (await platform.registry.aliasHistory('p', 'production')).at(-1)!
    expect(move).toMatchObject({ fromVersion: 2, toVersion: 1, actor: 'freshet monitor' })
    expect(move.reason).toMatch(/^rollback: monitor "errors" firing: error_rate > 0.2 \(error_rate = 0.75\)/)
  })

  it('stale training data raises an alert, logged as one structured line', () => {
    const stale = check.rules.find((r) => r.rule === 'stale-data')!
    expect(stale.state).toBe('firing')
    expect(check.staleness).toMatchObject({
      dataBudget: '2d',
      dataOverBudget: true,
      deployBudget: '7d',
      deployOverBudget: false,
    })
    expect(check.staleness.newestData).toMatch(/^2024-01-0/)
    const lines = logLines.filter((l) => (l.alert as { rule?: string } | undefined)?.rule === 'stale-data')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 40,
      alert: { pipeline: 'p', transition: 'firing', condition: 'staleness.data > 2d' },
    })
    expect((lines[0]!.alert as { values: Record<string, number> }).values['staleness.data']).toBeGreaterThan(
      48,
    )
  })

  it('a rule acts once while it fires, and resolves (announced) when its condition is false again', async () => {
    // Two hours later the failing window is behind: no traffic, so no error rate, and the error rule resolves;
    // the stale data is still stale, so that rule keeps firing without alerting again.
    clock += 2 * 3_600_000
    const later = await checkPipeline(platform, 'p', {
      now: () => new Date(clock),
      logger,
      webhook: { attempts: 1 },
    })
    expect(later.variables.error_rate).toBeNull()
    expect(later.rules.find((r) => r.rule === 'errors')).toMatchObject({
      state: 'ok',
      event: { transition: 'resolved', actions: [{ action: 'alert' }] },
    })
    expect(later.rules.find((r) => r.rule === 'stale-data')).toMatchObject({ state: 'firing', event: null })
    expect(
      logLines.filter((l) => (l.alert as { rule?: string } | undefined)?.rule === 'stale-data'),
    ).toHaveLength(1)
    expect(await platform.registry.alias('p', 'production')).toBe(1)
  })

  it('GET /api/v1/monitoring/p and `freshet monitor p` show the rules, transitions and staleness', async () => {
    const status = (await (await fetch(`${url}/api/v1/monitoring/p`)).json()) as MonitoringStatus
    expect(status.rules.map((r) => [r.name, r.state])).toEqual([
      ['errors', 'ok'],
      ['stale-data', 'firing'],
    ])
    expect(status.events.filter((e) => e.rule === 'errors').map((e) => e.transition)).toEqual([
      'resolved',
      'firing',
    ])
    expect(status.windows.some((w) => w.online.some((o) => o.version === 2 && o.errors === 30))).toBe(true)
    expect((await fetch(`${url}/api/v1/monitoring/p?windows=0`)).status).toBe(400)

    const json = await runCli(['monitor', 'p', '--json'], { cwd: dir })
    expect(json.code, json.stderr).toBe(0)
    expect((JSON.parse(json.stdout) as MonitoringStatus).rules.map((r) => r.state)).toEqual(['ok', 'firing'])
    const text = await runCli(['monitor', 'p'], { cwd: dir })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('OVER BUDGET')
    expect(text.stdout).toMatch(/stale-data\s+staleness.data > 2d\s+0ms\s+alert\s+FIRING/)
    expect(text.stdout).toMatch(/errors\s+resolved/)
    expect(text.stdout).toMatch(/errors\s+firing\s+error_rate=0.75/)
    const missing = await runCli(['monitor', 'nope'], { cwd: dir })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('pipeline "nope" does not exist')
  }, 60_000)

  it('the evaluator loop checks every monitored pipeline until stopped', async () => {
    const seen: string[] = []
    let first: () => void = () => undefined
    const checked = new Promise<void>((resolve) => (first = resolve))
    const stop = startMonitor(platform, {
      intervalMs: 20,
      now: () => new Date(clock),
      logger,
      onCheck: (c) => {
        seen.push(c.pipeline)
        first()
      },
      onError: (error) => {
        throw error
      },
    })
    await checked
    await stop()
    const count = seen.length
    expect(seen[0]).toBe('p')
    // Stopped means stopped: nothing more is checked.
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(seen).toHaveLength(count)
  })
})

describe('webhook delivery', () => {
  let server: Server
  let hookUrl: string
  let hits = 0
  beforeAll(async () => {
    server = createServer((_request, response) => {
      hits++
      response.writeHead(400).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    hookUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
  })
  afterAll(async () => new Promise((resolve) => server.close(resolve)))

  it('does not retry a 4xx answer, and gives up on an unreachable receiver after its bounded attempts', async () => {
    expect(await deliverWebhook(hookUrl, { a: 1 }, { attempts: 5, backoffMs: 1 })).toMatchObject({
      delivered: false,
      attempts: 1,
      status: 400,
    })
    expect(hits).toBe(1)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as { port: number }).port
    await new Promise((resolve) => closed.close(resolve))
    const result = await deliverWebhook(`http://127.0.0.1:${port}/`, { a: 1 }, { attempts: 3, backoffMs: 1 })
    expect(result).toMatchObject({ delivered: false, attempts: 3, status: null })
    expect(result.error).toBeTruthy()
  })
})
