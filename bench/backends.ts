import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import pg from 'pg'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { table } from '../src/cli/table.js'
import { configFromObject } from '../src/config/load.js'
import { mulberry32 } from '../src/core/random.js'
import { ingestFile } from '../src/data/ingest.js'
import { EmbeddedEventLog } from '../src/storage/log/embedded/embedded-event-log.js'
import type { EventLog } from '../src/storage/log/event-log.js'
import { NatsEventLog } from '../src/storage/log/nats/nats-event-log.js'
import { openSqliteMetadata } from '../src/storage/metadata/sqlite/sqlite-metadata.js'
import { median, peakRssKiB, printBenchJson } from './support.js'

/*
 * Backends: the same work on the embedded metadata database (SQLite) and on PostgreSQL, in the same run.
 *  1. Runs: N runs of a small pipeline (2,000 rows, hashed text + categorical + numeric, linear trainer) enqueued at
 *     once and executed by W `freshet worker` processes sharing the queue; each run trains in its own child process,
 *     evaluates, runs no infra check and registers a version. Reported: runs/s from the first enqueue to the last
 *     finish, and the p50 of enqueue -> finished per run (from the runs' own timestamps).
 *  2. Queue alone: J no-op jobs enqueued one by one, then claimed and completed by C concurrent claimers in this
 *     process, through the same JobQueue port the workers use: the cost of the backend itself, without training.
 * PostgreSQL is the server at FRESHET_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres); each
 * backend gets a fresh database, dropped afterwards.
 *  3. Event log: E events (a small JSON object with a message id each) appended in batches of B, then consumed by
 *     one named consumer in batches of B with a no-op handler, through the EventLog port: embedded (SQLite) vs the
 *     NATS JetStream adapter (offsets in the same kind of SQLite database); and, as the ceiling, a bare loop on
 *     @nats-io/jetstream: the same messages published with Nats-Msg-Id in windows of B, then fetched by a durable
 *     pull consumer in batches of B and acked, with no database at all. NATS is FRESHET_BENCH_NATS_URL (default
 *     nats://127.0.0.1:4222); every stream the bench makes is deleted afterwards.
 * Environment: FRESHET_BENCH_RUNS (default 20), FRESHET_BENCH_WORKERS (default 2), FRESHET_BENCH_JOBS (default 2000),
 * FRESHET_BENCH_EVENTS (default 20000), FRESHET_BENCH_EVENT_BATCH (default 500).
 */

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const serverUrl = process.env.FRESHET_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const runs = Number(process.env.FRESHET_BENCH_RUNS ?? 20)
const workerCount = Number(process.env.FRESHET_BENCH_WORKERS ?? 2)
const jobs = Number(process.env.FRESHET_BENCH_JOBS ?? 2000)
const claimers = 4
const natsUrl = process.env.FRESHET_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222'
const logEvents = Number(process.env.FRESHET_BENCH_EVENTS ?? 20_000)
const logBatch = Number(process.env.FRESHET_BENCH_EVENT_BATCH ?? 500)

const pipelines = {
  p: {
    dataset: 'd',
    task: 'binary',
    features: { message: { type: 'text' }, color: { type: 'categorical' }, amount: { type: 'numeric' } },
    trainer: { type: 'linear', hashBits: 16 },
    deploy: { auto: false, infraCheck: false },
  },
}

function csv(rows: number): string {
  const random = mulberry32(7)
  const words = [['win', 'prize', 'free', 'cash'], ['meeting', 'agenda', 'report', 'lunch']] as const
  const lines = ['ts,message,color,amount,label']
  for (let i = 0; i < rows; i++) {
    const y = random() < 0.5 ? 1 : 0
    const pool = words[y] as readonly string[]
    const message = Array.from({ length: 5 }, () => pool[Math.floor(random() * pool.length)]).join(' ')
    lines.push(`${new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString()},${message},${y === 1 ? 'red' : 'green'},${(y * 50 + random() * 60).toFixed(2)},${random() < 0.1 ? 1 - y : y}`)
  }
  return `${lines.join('\n')}\n`
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 })
  client.on('error', () => undefined)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

interface Measured {
  backend: string
  runsPerSecond: number
  runLatencyP50Ms: number
  enqueuePerSecond: number
  jobsPerSecond: number
  workerPeakRssMiB: number
}

function startWorker(dir: string): { child: ChildProcess; peakRssKiB: () => number } {
  const child = spawn(process.execPath, [cli, 'worker'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  let peak = 0
  const timer = setInterval(() => {
    try {
      // Peak RSS of the worker process itself (trainer children are separate processes).
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      peak = Math.max(peak, Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0))
    } catch {
      // exited, or not Linux
    }
  }, 500)
  child.once('exit', () => clearInterval(timer))
  return { child, peakRssKiB: () => peak }
}

async function measure(backend: string, metadata: string | undefined): Promise<Measured> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `freshet-bench-backends-${backend}-`))
  const config = { ...(metadata === undefined ? {} : { backend: { metadata } }), datasets: { d: { eventTime: 'ts', label: 'label' } }, pipelines }
  await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
  await writeFile(path.join(dir, 'd.csv'), csv(2000))
  let platform: Platform | undefined
  const workers: ReturnType<typeof startWorker>[] = []
  try {
    platform = await openPlatform(configFromObject(config, dir))
    await ingestFile(platform, 'd', path.join(dir, 'd.csv'))

    // 1. Runs through worker processes.
    for (let i = 0; i < workerCount; i++) workers.push(startWorker(dir))
    const started = performance.now()
    for (let i = 0; i < runs; i++) await platform.runs.enqueue({ pipeline: 'p', trigger: { type: 'manual', actor: 'bench' } })
    let finished
    for (;;) {
      finished = await platform.runs.list({ pipeline: 'p', limit: 1000 })
      if (finished.every((r) => r.state === 'succeeded' || r.state === 'failed')) break
      if (performance.now() - started > 600_000) throw new Error(`${backend}: runs did not finish within 10 minutes`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const failed = finished.filter((r) => r.state !== 'succeeded')
    if (failed.length > 0) throw new Error(`${backend}: ${failed.length} runs failed: ${failed[0]?.error?.message ?? ''}`)
    const first = Math.min(...finished.map((r) => Date.parse(r.createdAt)))
    const last = Math.max(...finished.map((r) => Date.parse(r.finishedAt ?? '')))
    const latency = median(finished.map((r) => Date.parse(r.finishedAt ?? '') - Date.parse(r.createdAt)))
    const workerPeak = Math.max(...workers.map((w) => w.peakRssKiB()))
    for (const w of workers) w.child.kill('SIGTERM')
    await Promise.all(workers.map((w) => new Promise((resolve) => (w.child.exitCode !== null ? resolve(null) : w.child.once('exit', resolve)))))

    // 2. The queue alone.
    const queue = platform.queue
    let t = performance.now()
    for (let i = 0; i < jobs; i++) await queue.enqueue({ kind: 'bench-noop', payload: { i } })
    const enqueueSeconds = (performance.now() - t) / 1000
    t = performance.now()
    let done = 0
    await Promise.all(
      Array.from({ length: claimers }, async (_, c) => {
        for (;;) {
          const claim = await queue.claim(`bench-${c}`, { kinds: ['bench-noop'], leaseMs: 60_000 })
          if (claim === undefined) return
          await queue.complete(claim.job.id, claim.token)
          done++
        }
      }),
    )
    if (done !== jobs) throw new Error(`${backend}: ${done} of ${jobs} no-op jobs completed`)
    const drainSeconds = (performance.now() - t) / 1000
    return {
      backend,
      runsPerSecond: runs / ((last - first) / 1000),
      runLatencyP50Ms: latency,
      enqueuePerSecond: jobs / enqueueSeconds,
      jobsPerSecond: jobs / drainSeconds,
      workerPeakRssMiB: workerPeak / 1024,
    }
  } finally {
    for (const w of workers) w.child.kill('SIGKILL')
    await platform?.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export async function backendsBench(): Promise<void> {
  console.log(`${runs} runs on ${workerCount} worker processes; ${jobs} no-op jobs, ${claimers} concurrent claimers`)
  const results: Measured[] = [await measure('sqlite', undefined)]
  let postgresProblem: string | undefined
  const name = `freshet_bench_${process.pid}_${randomBytes(4).toString('hex')}`
  try {
    await admin((client) => client.query(`CREATE DATABASE ${name}`))
  } catch (error) {
    postgresProblem = `PostgreSQL at ${serverUrl} is not answering (${error instanceof Error ? error.message : String(error)})`
  }
  if (postgresProblem === undefined) {
    try {
      const url = new URL(serverUrl)
      url.pathname = `/${name}`
      results.push(await measure('postgres', url.toString()))
    } finally {
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    }
  }
  const f = (n: number, digits = 1) => n.toFixed(digits)
  console.log(
    table(
      ['backend', 'runs/s', 'p50 enqueue->finished', 'queue enqueue/s', 'queue claim+complete/s', 'worker peak RSS'],
      results.map((r) => [r.backend, f(r.runsPerSecond, 2), `${f(r.runLatencyP50Ms / 1000, 2)} s`, f(r.enqueuePerSecond, 0), f(r.jobsPerSecond, 0), `${f(r.workerPeakRssMiB, 0)} MiB`]),
    ),
  )
  const [sqlite, postgres] = results as [Measured, Measured | undefined]
  if (postgres === undefined) {
    console.log(`no PostgreSQL figures: ${postgresProblem ?? 'not measured'}`)
  } else {
    console.log(`PostgreSQL / SQLite: runs/s ${f(postgres.runsPerSecond / sqlite.runsPerSecond, 2)}x, p50 latency ${f(postgres.runLatencyP50Ms / sqlite.runLatencyP50Ms, 2)}x, queue claim+complete/s ${f(postgres.jobsPerSecond / sqlite.jobsPerSecond, 2)}x`)
  }
  const eventLog = await eventLogBench()
  console.log(`bench process peak RSS: ${f(peakRssKiB() / 1024, 0)} MiB`)
  printBenchJson('backends', { runs, workers: workerCount, jobs, claimers, results, postgresSkipped: postgresProblem ?? null, eventLog, maxRssKiB: peakRssKiB() })
}

interface LogMeasured {
  log: string
  appendPerSecond: number
  consumePerSecond: number
}

const logBody = (i: number) => ({ payload: { user: `u${i % 997}`, amount: i % 100, at: '2030-01-01T00:00:00Z' }, messageId: `m${i}` })

/** Appends then consumes `logEvents` events through the EventLog port. */
async function measureLog(name: string, open: (db: Awaited<ReturnType<typeof openSqliteMetadata>>) => Promise<EventLog>): Promise<LogMeasured> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `freshet-bench-log-${name}-`))
  const db = await openSqliteMetadata(path.join(dir, 'freshet.db'))
  let log: EventLog | undefined
  try {
    log = await open(db)
    let t = performance.now()
    for (let i = 0; i < logEvents; i += logBatch) {
      const batch = Array.from({ length: Math.min(logBatch, logEvents - i) }, (_, j) => logBody(i + j))
      await log.append('bench', batch)
    }
    const appendSeconds = (performance.now() - t) / 1000
    t = performance.now()
    let consumed = 0
    for (;;) {
      const done = await log.consume('bench', 'sink', () => Promise.resolve(), { limit: logBatch })
      if (done === undefined) break
      consumed += done.events
    }
    if (consumed !== logEvents) throw new Error(`${name}: consumed ${consumed} of ${logEvents} events`)
    return { log: name, appendPerSecond: logEvents / appendSeconds, consumePerSecond: logEvents / ((performance.now() - t) / 1000) }
  } finally {
    await log?.close()
    await db.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}

/** The ceiling: the same messages on @nats-io/jetstream directly, without Freshet or a database. */
async function measureBareJetStream(prefix: string): Promise<LogMeasured> {
  const nc = await connect({ servers: natsUrl })
  try {
    const js = jetstream(nc)
    const jsm = await jetstreamManager(nc)
    const stream = `${prefix}_bare`
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.bare.>`], storage: 'file' })
    let t = performance.now()
    for (let i = 0; i < logEvents; i += logBatch) {
      await Promise.all(
        Array.from({ length: Math.min(logBatch, logEvents - i) }, (_, j) => {
          const body = logBody(i + j)
          return js.publish(`${prefix}.bare.e`, JSON.stringify(body.payload), { msgID: body.messageId })
        }),
      )
    }
    const appendSeconds = (performance.now() - t) / 1000
    await jsm.consumers.add(stream, { durable_name: 'sink', ack_policy: AckPolicy.Explicit, max_ack_pending: logBatch * 2 })
    const consumer = await js.consumers.get(stream, 'sink')
    t = performance.now()
    let consumed = 0
    while (consumed < logEvents) {
      const messages = await consumer.fetch({ max_messages: Math.min(logBatch, logEvents - consumed), expires: 1_000 })
      for await (const m of messages) {
        JSON.parse(m.string())
        m.ack()
        consumed++
      }
      await nc.flush()
    }
    return { log: 'bare @nats-io/jetstream (ceiling)', appendPerSecond: logEvents / appendSeconds, consumePerSecond: logEvents / ((performance.now() - t) / 1000) }
  } finally {
    await nc.close()
  }
}

async function deleteStreams(prefix: string): Promise<void> {
  const nc = await connect({ servers: natsUrl })
  try {
    const jsm = await jetstreamManager(nc)
    for await (const name of jsm.streams.names()) if (name.startsWith(`${prefix}_`)) await jsm.streams.delete(name)
  } finally {
    await nc.close()
  }
}

/** 3. Event log: embedded vs the NATS adapter, with bare JetStream as the ceiling, in this run. */
async function eventLogBench(): Promise<{ events: number; batch: number; results: LogMeasured[]; natsSkipped: string | null }> {
  console.log(`event log: ${logEvents} events appended in batches of ${logBatch}, then consumed in batches of ${logBatch}`)
  const limits = { maxBacklog: Math.max(logEvents, 100_000) }
  const results = [await measureLog('embedded (SQLite)', (db) => Promise.resolve(new EmbeddedEventLog(db, { limits })))]
  const prefix = `bench-${process.pid}-${randomBytes(3).toString('hex')}`
  let natsSkipped: string | null = null
  try {
    results.push(await measureLog('NATS JetStream adapter', (db) => NatsEventLog.open(natsUrl, db, { limits, prefix })))
    results.push(await measureBareJetStream(prefix))
  } catch (error) {
    natsSkipped = `NATS at ${natsUrl}: ${error instanceof Error ? error.message : String(error)}`
  } finally {
    await deleteStreams(prefix).catch(() => undefined)
  }
  const f = (n: number, digits = 0) => n.toFixed(digits)
  console.log(table(['event log', 'append events/s', 'consume events/s'], results.map((r) => [r.log, f(r.appendPerSecond), f(r.consumePerSecond)])))
  const [embedded, adapter, bare] = results
  if (natsSkipped !== null || embedded === undefined || adapter === undefined || bare === undefined) {
    console.log(`no NATS figures: ${natsSkipped ?? 'not measured'}`)
  } else {
    console.log(`NATS adapter / bare JetStream: append ${f(adapter.appendPerSecond / bare.appendPerSecond, 2)}x, consume ${f(adapter.consumePerSecond / bare.consumePerSecond, 2)}x; NATS adapter / embedded: append ${f(adapter.appendPerSecond / embedded.appendPerSecond, 2)}x, consume ${f(adapter.consumePerSecond / embedded.consumePerSecond, 2)}x`)
  }
  return { events: logEvents, batch: logBatch, results, natsSkipped }
}
