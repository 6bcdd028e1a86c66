import { readdirSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './support/cli.js'
import { createTestDatabase, postgresSkipReason, type TestDatabase } from './support/postgres.js'
import { startS3TestServer, type S3TestServer } from './support/s3-server.js'
import { startCli, type CliProcess } from './support/processes.js'
import { clearlyNegative, clearlyPositive, fixtureConfig, learnableCsv } from './support/trained-model.js'

const skip = await postgresSkipReason()

// The same commands as on the embedded default, with `backend` naming a PostgreSQL database and an S3 bucket (an
// S3-compatible server started here): ingest, a worker process executing a queued run, the registry, serving.
describe.skipIf(skip !== undefined)('a workspace on PostgreSQL and S3, end to end through the CLI', () => {
  let database: TestDatabase
  let s3: S3TestServer
  let env: Record<string, string>
  let dir: string
  let worker: CliProcess | undefined
  beforeAll(async () => {
    database = await createTestDatabase()
    s3 = await startS3TestServer()
    env = { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey }
    dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-pg-e2e-'))
    const backend = { metadata: database.url, blobs: `s3://${s3.bucket}/team-a`, s3: { endpoint: s3.endpoint } }
    await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify({ backend, ...fixtureConfig }))
    await writeFile(path.join(dir, 'd.csv'), learnableCsv(300))
  })
  afterAll(async () => {
    worker?.killGroup()
    await database.drop()
    await s3.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('ingests, trains through the queue on a worker process, registers, deploys and serves', async () => {
    const ingested = await runCli(['ingest', 'd', 'd.csv'], { cwd: dir, env })
    expect(ingested.stderr).toBe('')
    expect(ingested.stdout).toMatch(/300 rows/)
    expect((await runCli(['ingest', 'd', 'd.csv'], { cwd: dir, env })).stdout).toMatch(/already ingested/)

    worker = startCli(['worker'], { cwd: dir, env })
    await worker.waitForOutput(/is waiting for runs/, 30_000)
    const queued = await runCli(['train', 'p'], { cwd: dir, env })
    expect(queued.stdout, queued.stderr).toMatch(/is queued; a worker executes it/)
    await worker.waitForOutput(/run p\/r_\w+ succeeded: v1 .*deployed/, 60_000)

    const runs = JSON.parse((await runCli(['runs', 'p', '--json'], { cwd: dir, env })).stdout) as { state: string }[]
    expect(runs.map((r) => r.state)).toEqual(['succeeded'])
    const models = JSON.parse((await runCli(['models', 'p', '--json'], { cwd: dir, env })).stdout) as { aliases: Record<string, number> }
    expect(models.aliases.production).toBe(1)

    const scored = await runCli(['predict', 'p', '--json', JSON.stringify(clearlyPositive)], { cwd: dir, env })
    const low = await runCli(['predict', 'p', '--json', JSON.stringify(clearlyNegative)], { cwd: dir, env })
    const p = (out: string) => Number(/(0\.\d+|1(\.0+)?)/.exec(out)?.[1])
    expect(p(scored.stdout)).toBeGreaterThan(0.7)
    expect(p(low.stdout)).toBeLessThan(0.3)

    // The artifacts and the batch are in the bucket, not in the state folder.
    expect(readdirSync(path.join(dir, '.freshet'))).not.toContain('blobs')
    worker.signal('SIGTERM')
    expect((await worker.exited).code).toBe(0)
  }, 120_000)
})
