import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Platform } from '../app/platform.js'
import { measureStaleness } from './staleness.js'
import { monitorSettings } from './settings.js'
import { storedWindows } from './windows.js'

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const runBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200]

/**
 * The Prometheus metrics of one server, in its own prom-client registry (several servers in one process do not
 * share counters). Request counters and latency histograms are counted by the server as it answers; everything
 * the metadata database knows (runs, the queue, batches, model and data ages, drift, rule states, predict errors)
 * is read at scrape time, so every process shows the same numbers for it.
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>
  readonly httpDuration: Histogram<'method' | 'route'>
  readonly predictRequests: Counter<'pipeline' | 'version' | 'status_code'>
  readonly predictDuration: Histogram<'pipeline' | 'version'>
  readonly predictions: Counter<'pipeline' | 'version'>
  /** Failures of the scrape-time reads, by collector: the metrics they feed are left out of that scrape. */
  private readonly scrapeErrors: Counter<'collector'>
  private readonly runCursor = { at: '', ids: new Set<string>() }

  constructor(
    private readonly platform: Platform,
    private readonly now: () => Date = () => new Date(),
  ) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'freshet_process_' })
    this.httpRequests = new Counter({
      name: 'freshet_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    })
    this.httpDuration = new Histogram({
      name: 'freshet_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: latencyBuckets,
      registers,
    })
    this.predictRequests = new Counter({
      name: 'freshet_predict_requests_total',
      help: 'Predict requests answered, by pipeline, model version that answered (empty when none did) and status code.',
      labelNames: ['pipeline', 'version', 'status_code'],
      registers,
    })
    this.predictDuration = new Histogram({
      name: 'freshet_predict_duration_seconds',
      help: 'Time to answer successful predict requests, by pipeline and model version.',
      labelNames: ['pipeline', 'version'],
      buckets: latencyBuckets,
      registers,
    })
    this.predictions = new Counter({
      name: 'freshet_predictions_total',
      help: 'Predictions served (instances scored), by pipeline and model version.',
      labelNames: ['pipeline', 'version'],
      registers,
    })
    this.scrapeErrors = new Counter({
      name: 'freshet_scrape_errors_total',
      help: 'Scrape-time reads of the metadata database that failed, by collector.',
      labelNames: ['collector'],
      registers,
    })

    const db = platform.db
    const guarded =
      <T>(collector: string, read: () => Promise<T>) =>
      async (): Promise<T | undefined> => {
        try {
          return await read()
        } catch {
          this.scrapeErrors.inc({ collector })
          return undefined
        }
      }
    const observeRuns = (h: Histogram<'pipeline' | 'state'>) => this.observeFinishedRuns(h)
    new Counter({
      name: 'freshet_predict_errors_total',
      help: 'Predict requests a model version refused or failed (from the prediction log, all servers), by pipeline and version.',
      labelNames: ['pipeline', 'version'],
      registers,
      async collect() {
        const rows = await guarded('predict_errors', () =>
          db
            .selectFrom('serving_counts')
            .select((eb) => ['pipeline', 'version', eb.fn.sum<number>('errors').as('errors')])
            .groupBy(['pipeline', 'version'])
            .execute(),
        )()
        this.reset()
        for (const r of rows ?? [])
          this.inc({ pipeline: r.pipeline, version: String(r.version) }, Number(r.errors))
      },
    })
    new Gauge({
      name: 'freshet_queue_jobs',
      help: 'Jobs in the durable queue that are waiting (queued) or being executed (running).',
      labelNames: ['state'],
      registers,
      async collect() {
        const rows = await guarded('queue', () =>
          db
            .selectFrom('jobs')
            .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
            .where('state', 'in', ['queued', 'running'])
            .groupBy('state')
            .execute(),
        )()
        if (rows === undefined) return
        this.reset()
        this.set({ state: 'queued' }, 0)
        this.set({ state: 'running' }, 0)
        for (const r of rows) this.set({ state: r.state }, Number(r.n))
      },
    })
    new Counter({
      name: 'freshet_runs_total',
      help: 'Finished runs, by pipeline and outcome (succeeded, failed, cancelled).',
      labelNames: ['pipeline', 'state'],
      registers,
      async collect() {
        const rows = await guarded('runs', () =>
          db
            .selectFrom('runs')
            .select((eb) => ['pipeline', 'state', eb.fn.countAll<number>().as('n')])
            .where('state', 'in', ['succeeded', 'failed', 'cancelled'])
            .groupBy(['pipeline', 'state'])
            .execute(),
        )()
        this.reset()
        for (const r of rows ?? []) this.inc({ pipeline: r.pipeline, state: r.state }, Number(r.n))
      },
    })
    new Histogram({
      name: 'freshet_run_duration_seconds',
      help: 'Durations of finished runs, from start to end, by pipeline and outcome.',
      labelNames: ['pipeline', 'state'],
      buckets: runBuckets,
      registers,
      async collect() {
        await guarded('run_durations', () => observeRuns(this))()
      },
    })
    new Gauge({
      name: 'freshet_batches',
      help: 'Dataset batches by state (accepted, quarantined, released, discarded).',
      labelNames: ['dataset', 'state'],
      registers,
      async collect() {
        const rows = await guarded('batches', () =>
          db
            .selectFrom('batches')
            .select((eb) => ['dataset', 'state', eb.fn.countAll<number>().as('n')])
            .groupBy(['dataset', 'state'])
            .execute(),
        )()
        if (rows === undefined) return
        this.reset()
        for (const r of rows) this.set({ dataset: r.dataset, state: r.state }, Number(r.n))
      },
    })
    // The per-pipeline gauges come from the same reads, shared by their collectors: prom-client collects the
    // metrics of a scrape concurrently, so each one awaits the round the first one started.
    const gauges = {} as {
      dataAge: Gauge
      deployAge: Gauge
      modelAge: Gauge
      drift: Gauge
      predictionDrift: Gauge
      firing: Gauge
    }
    let round: Promise<unknown> | undefined
    const collect = async (): Promise<void> => {
      round ??= guarded('pipelines', () => this.collectPipelines(gauges))().finally(() => {
        round = undefined
      })
      await round
    }
    const gauge = (name: string, help: string, labelNames: string[]) =>
      new Gauge({ name, help, labelNames, registers, collect })
    gauges.dataAge = gauge(
      'freshet_training_data_age_seconds',
      "Time since the newest event in the production model's training data, by pipeline.",
      ['pipeline'],
    )
    gauges.deployAge = gauge(
      'freshet_deploy_age_seconds',
      'Time since production last moved (deploy, rollback, promotion), by pipeline.',
      ['pipeline'],
    )
    gauges.modelAge = gauge(
      'freshet_model_age_seconds',
      'Time since the production model version was registered, by pipeline and version.',
      ['pipeline', 'version'],
    )
    gauges.drift = gauge(
      'freshet_serving_drift',
      "Drift of served features from the production model's training data in the latest monitoring window (Jensen-Shannon for numbers, L-infinity for categories), by pipeline and feature.",
      ['pipeline', 'feature'],
    )
    gauges.predictionDrift = gauge(
      'freshet_prediction_drift',
      "Jensen-Shannon divergence of served predictions from the holdout's in the latest monitoring window, by pipeline.",
      ['pipeline'],
    )
    gauges.firing = gauge(
      'freshet_monitor_firing',
      'Monitor rules: 1 while firing, else 0, by pipeline and rule.',
      ['pipeline', 'rule'],
    )
  }

  private async collectPipelines(g: {
    dataAge: Gauge
    deployAge: Gauge
    modelAge: Gauge
    drift: Gauge
    predictionDrift: Gauge
    firing: Gauge
  }): Promise<void> {
    const now = this.now()
    const pipelines = this.platform.config.config.pipelines ?? {}
    for (const gauge of Object.values(g)) gauge.reset()
    for (const [pipeline, spec] of Object.entries(pipelines)) {
      const settings = monitorSettings(pipeline, spec)
      const staleness = await measureStaleness(this.platform, pipeline, settings, now)
      if (staleness.version !== null) {
        const model = await this.platform.registry.version(pipeline, staleness.version)
        g.modelAge.set(
          { pipeline, version: String(staleness.version) },
          Math.max(0, (now.getTime() - Date.parse(model.createdAt)) / 1000),
        )
      }
      if (staleness.dataHours !== null) g.dataAge.set({ pipeline }, staleness.dataHours * 3600)
      if (staleness.deployHours !== null) g.deployAge.set({ pipeline }, staleness.deployHours * 3600)
      const [latest] = await storedWindows(this.platform, pipeline, 1)
      if (latest !== undefined) {
        for (const [feature, d] of Object.entries(latest.features))
          if (d.distance !== null) g.drift.set({ pipeline, feature }, d.distance)
        if (latest.predictionDrift !== null) g.predictionDrift.set({ pipeline }, latest.predictionDrift)
      }
      const states = await this.platform.db
        .selectFrom('monitor_rules')
        .select(['rule', 'state'])
        .where('pipeline', '=', pipeline)
        .execute()
      const known = new Map(states.map((s) => [s.rule, s.state]))
      for (const rule of settings.rules)
        g.firing.set({ pipeline, rule: rule.name }, known.get(rule.name) === 'firing' ? 1 : 0)
    }
  }

  /** Observes each run once as it finishes, in order of finishing: the histogram stays cumulative. */
  private async observeFinishedRuns(histogram: Histogram<'pipeline' | 'state'>): Promise<void> {
    for (;;) {
      const rows = await this.platform.db
        .selectFrom('runs')
        .select(['id', 'pipeline', 'state', 'created_at', 'started_at', 'finished_at'])
        .where('state', 'in', ['succeeded', 'failed', 'cancelled'])
        .where('finished_at', '>=', this.runCursor.at)
        .orderBy('finished_at')
        .orderBy('id')
        .limit(1000)
        .execute()
      let fresh = 0
      for (const row of rows) {
        const at = row.finished_at ?? ''
        if (at === this.runCursor.at && this.runCursor.ids.has(row.id)) continue
        fresh++
        const start = Date.parse(row.started_at ?? row.created_at)
        histogram.observe(
          { pipeline: row.pipeline, state: row.state },
          Math.max(0, (Date.parse(at) - start) / 1000),
        )
        if (at !== this.runCursor.at) {
          this.runCursor.at = at
          this.runCursor.ids = new Set()
        }
        this.runCursor.ids.add(row.id)
      }
      if (rows.length < 1000 || fresh === 0) return
    }
  }
}
