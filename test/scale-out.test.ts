import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { configFromObject } from '../src/config/load.js'
import { ingestFile } from '../src/data/ingest.js'
import { createTestDatabase, postgresSkipReason, type TestDatabase } from './support/postgres.js'
import { pollUntil, startCli, type CliProcess } from './support/processes.js'
import { fixtureConfig, learnableCsv } from './support/trained-model.js'

const skip = await postgresSkipReason()

const runCount = 30
// Long enough that a healthy worker on a loaded machine keeps its lease (heartbeats every third of it).
const leaseSeconds = 8

// Several `freshet worker` processes share one PostgreSQL queue (FOR UPDATE SKIP LOCKED claims, leases, fencing
// tokens). Versions are registered without moving production, so concurrent runs do not race for the alias.
describe.skipIf(skip !== undefined)(`${runCount} runs on 3 worker processes sharing one PostgreSQL database`, () => {
  let database: TestDatabase
  let dir: string
  let platform: Platform
  const workers: CliProcess[] = []
  beforeAll(async () => {
    database = await createTestDatabase()
    dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-scale-out-'))
    const config = {
      backend: { metadata: database.url },
      ...fixtureConfig,
      pipelines: { p: { ...fixtureConfig.pipelines.p, deploy: { auto: false, infraCheck: false } } },
    }
    await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
    await writeFile(path.join(dir, 'd.csv'), learnableCsv(200))
    platform = await openPlatform(configFromObject(config, dir))
    await ingestFile(platform, 'd', path.join(dir, 'd.csv'))
  })
  afterAll(async () => {
    for (const worker of workers) worker.killGroup()
    await platform.close()
    await database.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it('commits every run exactly once, and a run whose worker is killed -9 is retried after its lease and completes', async () => {
    const runIds = new Set<string>()
    for (let i = 0; i < runCount; i++) {
      runIds.add((await platform.runs.enqueue({ pipeline: 'p', trigger: { type: 'manual', actor: 'scale-out test' } })).id)
    }
    expect(runIds.size).toBe(runCount)

    const start = () => {
      const worker = startCli(['worker', '--lease', String(leaseSeconds)], { cwd: dir })
      workers.push(worker)
      return worker
    }
    const [victim, ...survivors] = [start(), start(), start()] as [CliProcess, CliProcess, CliProcess]
    // Killed the moment it has claimed a run: before it can commit (training alone takes longer than that).
    const claimed = await victim.waitForOutput(/worker: claimed run (r_[0-9a-f]+) \(attempt 1 of/, 60_000)
    victim.signal('SIGKILL')
    const killedRun = claimed[1] as string
    expect((await victim.exited).signal).toBe('SIGKILL')
    survivors.push(start())

    const finished = await pollUntil(
      `all ${runCount} runs to finish`,
      async () => {
        const runs = await platform.runs.list({ pipeline: 'p', limit: 1000 })
        return runs.every((r) => r.state === 'succeeded' || r.state === 'failed' || r.state === 'cancelled') && runs
      },
      150_000,
      250,
    )

    expect(finished.map((r) => [r.id, r.state, r.error?.message ?? null]).filter(([, state]) => state !== 'succeeded')).toEqual([])
    expect(new Set(finished.map((r) => r.id))).toEqual(runIds)

    // Exactly one version per run: the killed attempt committed nothing.
    const versions = await platform.registry.versions('p')
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(Array.from({ length: runCount }, (_, i) => i + 1))
    const versionOfRun = finished.map((r) => r.outcome?.modelVersion)
    expect(new Set(versionOfRun).size).toBe(runCount)
    expect(versionOfRun.every((v) => typeof v === 'number')).toBe(true)

    // Attempts: one claim per run, two for the run whose worker was killed (the lease expired, another took it).
    const jobs = await platform.queue.list({ kind: 'run', limit: 1000 })
    const attempts = new Map(finished.map((r) => [r.id, jobs.find((j) => j.id === r.jobId)?.attempts]))
    expect(attempts.get(killedRun)).toBe(2)
    expect([...attempts].filter(([id, n]) => id !== killedRun && n !== 1)).toEqual([])
    const retried = finished.find((r) => r.id === killedRun)
    expect(retried?.attempt).toBe(2)

    // Every surviving worker took part, and the retry was claimed by one of them.
    const claims = survivors.map((w) => [...w.output().matchAll(/worker: claimed run (r_[0-9a-f]+) \(attempt (\d)/g)].map((m) => `${m[1]}#${m[2]}`))
    expect(claims.every((c) => c.length > 0)).toBe(true)
    expect(claims.flat().filter((c) => c === `${killedRun}#2`)).toHaveLength(1)
    expect(claims.flat()).toHaveLength(runCount)
    for (const worker of survivors) worker.signal('SIGTERM')
    for (const worker of survivors) expect((await worker.exited).code).toBe(0)
  }, 240_000)
})
