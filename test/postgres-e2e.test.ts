import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './support/cli.js'
import { createTestDatabase, postgresSkipReason, type TestDatabase } from './support/postgres.js'
import { startCli, type CliProcess } from './support/processes.js'
import { clearlyNegative, clearlyPositive, fixtureConfig, learnableCsv } from './support/trained-model.js'

const skip = await postgresSkipReason()

// The same commands as on the embedded default, with `backend.metadata` naming a PostgreSQL database: ingest,
// a worker process executing a queued run, the registry, serving.
describe.skipIf(skip !== undefined)('a workspace on PostgreSQL, end to end through the CLI', () => {
  let database: TestDatabase
  let dir: string
  let worker: CliProcess | undefined
  beforeAll(async () => {
    database = await createTestDatabase()
    dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-pg-e2e-'))
    await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify({ backend: { metadata: database.url }, ...fixtureConfig }))
    await writeFile(path.join(dir, 'd.csv'), learnableCsv(300))
  })
  afterAll(async () => {
    worker?.killGroup()
    await database.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it('ingests, trains through the queue on a worker process, registers, deploys and serves', async () => {
    const ingested = await runCli(['ingest', 'd', 'd.csv'], { cwd: dir })
    expect(ingested.stderr).toBe('')
    expect(ingested.stdout).toMatch(/300 rows/)
    expect((await runCli(['ingest', 'd', 'd.csv'], { cwd: dir })).stdout).toMatch(/already ingested/)

    worker = startCli(['worker'], { cwd: dir })
    await worker.waitForOutput(/is waiting for runs/, 30_000)
    const queued = await runCli(['train', 'p'], { cwd: dir })
    expect(queued.stdout, queued.stderr).toMatch(/is queued; a worker executes it/)
    await worker.waitForOutput(/run p\/r_\w+ succeeded: v1 .*deployed/, 60_000)

    const runs = JSON.parse((await runCli(['runs', 'p', '--json'], { cwd: dir })).stdout) as { state: string }[]
    expect(runs.map((r) => r.state)).toEqual(['succeeded'])
    const models = JSON.parse((await runCli(['models', 'p', '--json'], { cwd: dir })).stdout) as { aliases: Record<string, number> }
    expect(models.aliases.production).toBe(1)

    const scored = await runCli(['predict', 'p', '--json', JSON.stringify(clearlyPositive)], { cwd: dir })
    const low = await runCli(['predict', 'p', '--json', JSON.stringify(clearlyNegative)], { cwd: dir })
    const p = (out: string) => Number(/(0\.\d+|1(\.0+)?)/.exec(out)?.[1])
    expect(p(scored.stdout)).toBeGreaterThan(0.7)
    expect(p(low.stdout)).toBeLessThan(0.3)

    worker.signal('SIGTERM')
    expect((await worker.exited).code).toBe(0)
  }, 120_000)
})
