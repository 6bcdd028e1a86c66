import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Platform } from '../src/app/platform.js'
import { ingestFile } from '../src/data/ingest.js'
import { checkPipeline } from '../src/monitoring/monitor.js'
import { Worker } from '../src/orchestration/worker.js'
import { buildServer } from '../src/server/app.js'
import { defaultWebRoot } from '../src/server/static.js'
import { trainAndRegister } from '../src/training/train.js'
import { clearlyNegative, clearlyPositive, fixtureConfig, learnableCsv, registerCopy } from './support/trained-model.js'
import { tempPlatform } from './support/workspace.js'

// The fixture's pipeline `p` with four epochs, so that training reports progress (and loss) more than once, and
// monitor rules: one that fires (the fixture's data is from 2024), one pending for an hour, one quiet.
const config = {
  ...fixtureConfig,
  pipelines: {
    ...fixtureConfig.pipelines,
    p: {
      ...fixtureConfig.pipelines.p,
      trainer: { type: 'linear' as const, hashBits: 12, epochs: 4 },
      monitoring: { window: '1h', minRows: 20, staleness: { data: '30d', deploy: '7d' } },
      monitors: [
        { name: 'stale-data', when: 'staleness.data > 30d', then: ['alert' as const] },
        { name: 'amount-drift', when: 'drift.amount > 0.1', for: '3h', then: ['alert' as const] },
        { name: 'errors', when: 'error_rate > 0.2', then: ['alert' as const] },
      ],
    },
  },
}

// The dashboard in Debian's Chromium, driven by playwright-core, against a real server over a trained workspace
// with a worker: read the overview, train from the button and watch the run to its statistics, release a
// quarantined batch, deploy and roll back. Every page must load without console errors; each leaves a screenshot
// in test-artifacts/dashboard/.

const chromiumPath = '/usr/bin/chromium'
const required = process.env.FRESHET_REQUIRE_SERVICES === '1'
const haveChromium = existsSync(chromiumPath)
if (!haveChromium) {
  const message = `dashboard tests: ${chromiumPath} is missing (apt-get install chromium)`
  if (required) throw new Error(`${message}, and FRESHET_REQUIRE_SERVICES=1 requires it`)
  console.warn(`${message}: skipped`)
}

const token = 'dashboard-test-token-0123456789abcdef'
const artifacts = path.resolve('test-artifacts/dashboard')

let platform: Platform
let dir: string
let dispose: (() => Promise<void>) | undefined
let app: FastifyInstance
let url: string
let worker: Worker
let browser: Browser
let page: Page
let consoleErrors: string[]
let quarantinedId: string
/** The serving clock: the wall clock unless a test moves it (to serve predictions in past monitoring windows). */
let clock: number | null = null

/** The fixture's rows with `amount` a hundred times larger: validation keeps the batch aside (range, drift). */
function scaledCsv(): string {
  const [header = '', ...rows] = learnableCsv(200, 7).trim().split('\n')
  return [header, ...rows.map((line) => line.replace(/,([\d.]+),(\d)$/, (_m, amount: string, label: string) => `,${(Number(amount) * 100).toFixed(2)},${label}`))].join('\n') + '\n'
}

async function api<T>(route: string): Promise<T> {
  return (await (await fetch(`${url}${route}`)).json()) as T
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true })
}

async function signIn(): Promise<void> {
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByLabel('Access token').fill(token)
  await page.getByRole('button', { name: 'Use this token' }).click()
  await page.getByText('Signed in: changes allowed').waitFor()
}

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(path.join(defaultWebRoot, 'index.html'))) throw new Error(`the dashboard is not built in ${defaultWebRoot}: run npm run build`)
    await mkdir(artifacts, { recursive: true })
    ;({ platform, dir, dispose } = await tempPlatform(config))
    const good = path.join(dir, 'd.csv')
    await writeFile(good, learnableCsv())
    await ingestFile(platform, 'd', good)
    await trainAndRegister(platform, 'p', { actor: 'test' })
    const bad = path.join(dir, 'scaled.csv')
    await writeFile(bad, scaledCsv())
    const ingested = await ingestFile(platform, 'd', bad)
    expect(ingested.batch.state, JSON.stringify(ingested.anomalies)).toBe('quarantined')
    quarantinedId = ingested.batch.id
    app = await buildServer(platform, { token, runEvents: { heartbeatMs: 1000, pollMs: 200 }, serving: { now: () => new Date(clock ?? Date.now()) } })
    url = await app.listen({ host: '127.0.0.1', port: 0 })
    worker = new Worker(platform, { pollMs: 50 })
    worker.start()
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await worker?.stop()
    await app?.close()
    await dispose?.()
  })

  beforeEach(async () => {
    consoleErrors = []
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    page.on('pageerror', (error) => consoleErrors.push(error.message))
  })

  afterEach(async () => {
    await page.close()
  })

  it('shows each pipeline with its production version and the quarantine waiting; without a token changes are disabled and say why', async () => {
    await page.goto(`${url}/`)
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor()
    const pipelines = page.getByRole('table', { name: 'Pipelines' })
    const p = pipelines.getByRole('row').filter({ has: page.getByRole('rowheader', { name: /^p\b/ }) })
    await p.getByRole('link', { name: 'v1' }).waitFor()
    expect(await p.textContent()).toMatch(/AUC 0\.\d{3}/)
    expect(await pipelines.getByRole('row').filter({ hasText: 'untrained' }).textContent()).toContain('none yet')
    expect(await page.getByRole('status').filter({ hasText: 'quarantine' }).textContent()).toContain('1 batch waits in quarantine')
    expect(await page.getByText('Read-only', { exact: true }).isVisible()).toBe(true)
    await screenshot('overview')

    await page.getByRole('link', { name: 'p', exact: true }).click()
    const train = page.getByRole('button', { name: 'Train now' })
    await train.waitFor()
    expect(await train.isDisabled()).toBe(true)
    expect(await train.getAttribute('aria-describedby')).not.toBeNull()
    expect(await page.locator(`#${await train.getAttribute('aria-describedby')}`).textContent()).toMatch(/Read-only: sign in with the server’s access token/)
    expect(consoleErrors).toEqual([])
  }, 60_000)

  it('Train now starts a run, its progress reaches 100% live, then the run statistics appear; the run page has steps and the loss curve', async () => {
    await page.goto(`${url}/pipelines/p`)
    await signIn()
    await page.getByLabel('Reason (optional)').fill('checking the dashboard')
    await page.getByRole('button', { name: 'Train now' }).click()
    const progress = page.getByRole('progressbar')
    await progress.waitFor()
    await page.locator('[role=progressbar][aria-valuenow="100"]').waitFor({ timeout: 120_000 })
    const statistics = page.getByLabel('Run statistics')
    await statistics.getByRole('heading', { name: 'Data used' }).waitFor()
    const runId = (await page.getByLabel('Current run').getByRole('link').first().textContent()) ?? ''
    expect(runId).toMatch(/^r_[0-9a-f]{12}$/)
    const run = await api<{ state: string; outcome: { modelVersion: number; gate: { passed: boolean } }; statistics: { data: { rows: { train: number; holdout: number } } } }>(`/api/v1/runs/${runId}`)
    expect(run.state).toBe('succeeded')
    const text = (await statistics.textContent()) ?? ''
    expect(text).toContain(run.outcome.gate.passed ? 'Gate passed' : 'Gate failed')
    expect(text).toContain(`v${run.outcome.modelVersion}`)
    expect(text).toContain(`Training rows${run.statistics.data.rows.train}`)
    expect(text).toContain(`Holdout rows${run.statistics.data.rows.holdout}`)
    const metrics = page.getByRole('table', { name: 'Metrics against the champion' })
    expect(await metrics.getByRole('columnheader').allTextContents()).toContain('Champion v1')
    expect(await metrics.getByRole('row').filter({ hasText: 'auc' }).count()).toBe(1)
    expect(await page.getByRole('table', { name: 'Step timings' }).getByRole('row').count()).toBe(5)
    // The runs table took the new run in when it finished.
    await page.getByRole('table', { name: 'Runs' }).getByRole('link', { name: runId }).waitFor()
    await screenshot('pipeline')

    await page.getByRole('table', { name: 'Runs' }).getByRole('link', { name: runId }).click()
    await page.getByRole('heading', { name: runId, level: 1 }).waitFor()
    const steps = page.getByRole('table', { name: 'Steps' })
    await steps.getByRole('row').filter({ hasText: 'deploy' }).waitFor()
    expect(await steps.getByRole('row').filter({ hasText: 'train' }).textContent()).toContain('succeeded')
    await page.getByLabel('Run statistics').waitFor()
    await page.locator('figure').filter({ hasText: 'Training loss' }).locator('canvas').waitFor()
    await screenshot('run')
    expect(consoleErrors).toEqual([])
  }, 180_000)

  it('releases a quarantined batch after a confirmation with a required reason, and shows its anomalies and the dataset histograms', async () => {
    await page.goto(`${url}/data`)
    await signIn()
    const item = page.getByRole('list', { name: 'Quarantined batches' }).getByRole('listitem').filter({ hasText: quarantinedId })
    await item.waitFor()
    const anomalies = item.getByRole('table', { name: `Anomalies of batch ${quarantinedId}` })
    expect(await anomalies.textContent()).toMatch(/blocking.*amount/)
    await screenshot('data')

    await item.getByRole('button', { name: `Release batch ${quarantinedId}` }).click()
    const dialog = page.getByRole('dialog', { name: `Release batch ${quarantinedId}?` })
    await dialog.waitFor()
    const reason = dialog.getByLabel('Reason (required, recorded in the history)')
    expect(await reason.getAttribute('required')).not.toBeNull()
    await reason.fill('amounts are in cents from this supplier on')
    await dialog.getByRole('button', { name: 'Release' }).click()
    await page.getByRole('status').filter({ hasText: `Batch ${quarantinedId} is released.` }).waitFor()
    await page.getByText('No batch waits in quarantine.').waitFor()
    const shown = await api<{ batch: { state: string }; history: { action: string; actor: string; reason: string }[] }>(`/api/v1/quarantine/${quarantinedId}`)
    expect(shown.batch.state).toBe('released')
    expect(shown.history.at(-1)).toMatchObject({ action: 'release', actor: 'api:dashboard', reason: 'amounts are in cents from this supplier on' })

    await page.getByRole('link', { name: 'd', exact: true }).click()
    await page.getByRole('heading', { name: 'd', level: 1 }).waitFor()
    await page.getByRole('article', { name: 'Column amount' }).locator('figure canvas').waitFor()
    expect(await page.getByRole('table', { name: 'Batches' }).getByRole('row').filter({ hasText: quarantinedId }).textContent()).toContain('released')
    await screenshot('dataset')
    expect(consoleErrors).toEqual([])
  }, 120_000)

  it('deploys a version and rolls production back, each after a confirmation with a reason, and lists the moves', async () => {
    const copy = await registerCopy(platform, 1)
    const before = (await api<{ aliases: Record<string, number> }>('/api/v1/models/p/versions')).aliases.production
    await page.goto(`${url}/models/p`)
    await signIn()
    await page.getByRole('button', { name: `Deploy v${copy} to production` }).click()
    const deploy = page.getByRole('dialog', { name: `Deploy v${copy} of p to production?` })
    await deploy.getByLabel('Reason (required, recorded in the history)').fill('trying the copy')
    await deploy.getByRole('button', { name: `Deploy v${copy}` }).click()
    await page.getByRole('status').filter({ hasText: `Production moved from v${before} to v${copy}.` }).waitFor()

    await page.getByRole('button', { name: 'Roll back…' }).click()
    const rollback = page.getByRole('dialog', { name: 'Roll back p?' })
    expect(await rollback.getByLabel('Roll back to').locator('option:checked').textContent()).toBe(`v${before}, the previous production version`)
    await rollback.getByLabel('Reason (required, recorded in the history)').fill('the copy answers worse')
    await rollback.getByRole('button', { name: 'Roll back' }).click()
    await page.getByRole('status').filter({ hasText: `Rolled back: production moved from v${copy} to v${before}.` }).waitFor()
    const newest = page.getByRole('table', { name: 'Alias history' }).getByRole('row').nth(1)
    await newest.filter({ hasText: 'the copy answers worse' }).waitFor()
    expect(await newest.textContent()).toContain('api:dashboard')
    expect((await api<{ aliases: Record<string, number> }>('/api/v1/models/p/versions')).aliases.production).toBe(before)
    await screenshot('models')
    expect(consoleErrors).toEqual([])
  }, 60_000)

  it('the monitoring page charts drift per feature over windows and shows online quality, staleness, rules and their transitions', async () => {
    // Three hourly windows of served and labelled predictions, each with larger amounts than training saw, each
    // measured by the monitor's own evaluation (what `freshet up` runs every 30 s).
    const silent = pino({ level: 'silent' })
    const hour = 3_600_000
    try {
      for (const [back, shift] of [[2, 0], [1, 60], [0, 140]] as const) {
        clock = Date.now() - back * hour
        const instances = Array.from({ length: 30 }, (_, i) => {
          const positive = i % 2 === 0
          const base = positive ? clearlyPositive : clearlyNegative
          return { ...base, amount: (positive ? 80 + ((i * 7) % 40) : (i * 13) % 40) + (i % 3 === 0 ? shift : 0) }
        })
        const predicted = await fetch(`${url}/v1/models/p:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances }) })
        expect(predicted.status).toBe(200)
        const { predictionIds } = (await predicted.json()) as { predictionIds: string[] }
        const feedback = await fetch(`${url}/v1/models/p:feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ feedback: predictionIds.map((predictionId, i) => ({ predictionId, label: i % 2 === 0 ? 1 : 0 })) }),
        })
        expect(feedback.status).toBe(200)
        const check = await checkPipeline(platform, 'p', { now: () => new Date(clock ?? Date.now()), logger: silent })
        expect(check.window?.rows).toBe(30)
      }
    } finally {
      clock = null
    }
    const production = (await api<{ aliases: Record<string, number> }>('/api/v1/models/p/versions')).aliases.production

    await page.goto(`${url}/pipelines/p`)
    await page.getByRole('link', { name: 'drift, online quality, alerts' }).click()
    await page.getByRole('heading', { name: 'Monitoring of p', level: 1 }).waitFor()
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Monitoring' }).getAttribute('aria-current')).toBe('page')
    const chart = page.locator('figure').filter({ hasText: 'Drift of each feature and of the predictions' })
    await chart.locator('canvas').waitFor()
    const legend = (await chart.locator('.u-legend').textContent()) ?? ''
    // Text features have no distribution to compare: the chart has the numeric and categorical ones.
    for (const label of ['amount', 'color', 'prediction drift']) expect(legend).toContain(label)
    expect(await chart.getByRole('img').getAttribute('aria-label')).toMatch(/^Drift per 1h window, 3 window\(s\) measured\..*amount 0\.\d{3}/)
    const drift = page.getByRole('table', { name: 'Drift per feature in the latest window' })
    expect(await drift.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'amount' }) }).textContent()).toMatch(/numeric0\.\d{3}300/)

    const online = page.getByRole('table', { name: 'Online quality per version' })
    expect(await online.getByRole('columnheader').allTextContents()).toEqual(['Version', 'Served', 'Labelled', 'auc', 'logloss', 'accuracy', 'Error rate'])
    const served = online.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^v${production}`) }) })
    expect(await served.textContent()).toMatch(new RegExp(`^v${production}production3030(\\d\\.\\d{3}){3}\\d+\\.\\d% of \\d+ request`))

    const staleness = page.getByRole('table', { name: 'Staleness against budgets' })
    expect(await staleness.getByRole('row').filter({ hasText: 'Newest training data' }).textContent()).toContain('over budget')
    expect(await staleness.getByRole('row').filter({ hasText: 'Last production deploy' }).textContent()).toContain('within budget')
    await page.getByText('No canary is running').waitFor()

    const rules = page.getByRole('table', { name: 'Monitor rules' })
    const ruleRow = (name: string) => rules.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) })
    expect(await ruleRow('stale-data').textContent()).toContain('firing')
    expect(await ruleRow('amount-drift').textContent()).toContain('pending')
    expect(await ruleRow('errors').textContent()).toContain('ok')
    const transitions = page.getByRole('table', { name: 'Rule transitions' })
    expect(await transitions.getByRole('row').filter({ hasText: 'stale-data' }).textContent()).toMatch(/firing.*staleness\.data = \d+/)
    await screenshot('monitoring')
    expect(consoleErrors).toEqual([])
  }, 60_000)

  it('says clearly when the server refuses the token', async () => {
    await page.goto(`${url}/pipelines/p`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByLabel('Access token').fill('not-the-token')
    await page.getByRole('button', { name: 'Use this token' }).click()
    await page.getByRole('button', { name: 'Train now' }).click()
    const alert = page.getByRole('alert').filter({ hasText: 'The run was not started' })
    await alert.waitFor()
    expect(await alert.textContent()).toContain('the access token is missing or wrong')
    // The refused token is forgotten: the page is read-only again and says so.
    await page.getByText('Read-only', { exact: true }).waitFor()
    expect(await page.getByRole('button', { name: 'Train now' }).isDisabled()).toBe(true)
    await screenshot('unauthorized')
    // Chromium reports the refused request itself; nothing else may appear.
    expect(consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([])
  }, 60_000)
})
