import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createTestDatabase, postgresSkipReason, withPostgresDb } from '../../../test/support/postgres.js'
import { openPostgresMetadata } from '../metadata/postgres/postgres-metadata.js'
import { describeJobQueueContract } from './job-queue.contract.js'
import { SqlJobQueue } from './sql-job-queue.js'

const skip = await postgresSkipReason()

describe.skipIf(skip !== undefined)('SqlJobQueue on PostgreSQL', () => {
  describeJobQueueContract({
    name: 'SQL on PostgreSQL',
    create: async (options) => {
      const database = await createTestDatabase()
      const db = await openPostgresMetadata(database.url)
      return {
        db,
        queue: new SqlJobQueue(db, options),
        connect: async () => {
          const other = await openPostgresMetadata(database.url, { maxConnections: 1 })
          return { queue: new SqlJobQueue(other, options), close: () => other.destroy() }
        },
        cleanup: async () => {
          await db.destroy()
          await database.drop()
        },
      }
    },
  })

  it('a claimer passes a job that another one holds locked and takes the next', async () => {
    await withPostgresDb(async (url) => {
      const db = await openPostgresMetadata(url)
      try {
        const queue = new SqlJobQueue(db)
        const first = await queue.enqueue({ kind: 'k', payload: 1 })
        const second = await queue.enqueue({ kind: 'k', payload: 2 })
        // A transaction that holds the first job's row (as a claim in flight does) until told to end.
        let release: () => void = () => undefined
        const released = new Promise<void>((resolve) => (release = resolve))
        let locked: () => void = () => undefined
        const isLocked = new Promise<void>((resolve) => (locked = resolve))
        const holder = db.transaction().execute(async (trx) => {
          await trx.selectFrom('jobs').select('id').where('id', '=', first.id).forUpdate().execute()
          locked()
          await released
        })
        await isLocked
        // Without SKIP LOCKED this claim would wait for the holder, which waits for the claim: the test would hang.
        const claim = await queue.claim('w', { leaseMs: 60_000 })
        expect(claim?.job.id).toBe(second.id)
        release()
        await holder
        expect((await queue.claim('w', { leaseMs: 60_000 }))?.job.id).toBe(first.id)
      } finally {
        await db.destroy()
      }
    })
  })
})

const dist = (relative: string): string =>
  fileURLToPath(new URL(`../../../dist/src/${relative}`, import.meta.url))

// Claims until nothing is queued; each job's result is written in the same transaction as its completion.
const workerScript = `
import { createInterface } from 'node:readline'
import { openPostgresMetadata } from ${JSON.stringify(dist('storage/metadata/postgres/postgres-metadata.js'))}
import { SqlJobQueue } from ${JSON.stringify(dist('storage/queue/sql-job-queue.js'))}
const [url, workerId] = process.argv.slice(2)
const db = await openPostgresMetadata(url, { maxConnections: 2 })
const queue = new SqlJobQueue(db)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
process.stdout.write('ready\\n')
await lines.next()
const done = []
for (;;) {
  const claim = await queue.claim(workerId, { kinds: ['multi'], leaseMs: 60_000 })
  if (claim === undefined) {
    if ((await queue.list({ kind: 'multi', state: 'queued' })).length === 0) break
    continue
  }
  const n = claim.job.payload.n
  await new Promise((resolve) => setTimeout(resolve, 5)) // the work, so that the workers overlap
  await queue.withLease(claim.job.id, claim.token, async (trx) => {
    await trx.insertInto('datasets').values({ name: 'job-' + n, created_at: new Date().toISOString() }).execute()
    await queue.complete(claim.job.id, claim.token, { workerId }, trx)
  })
  done.push(n)
}
await db.destroy()
process.stdout.write(JSON.stringify(done) + '\\n')
process.exit(0)
`

interface Child {
  readonly ready: Promise<void>
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>
  go(): void
}

function startWorker(script: string, url: string, workerId: string): Child {
  const child = spawn(process.execPath, [script, url, workerId], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    if (stdout.startsWith('ready\n')) markReady()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      markReady()
      resolve({ code, stdout, stderr })
    })
  })
  return { ready, exited, go: () => child.stdin.end('go\n') }
}

describe.skipIf(skip !== undefined)('SqlJobQueue on PostgreSQL across processes', () => {
  it('three worker processes complete 30 jobs: each exactly once, none lost', async () => {
    expect(
      existsSync(dist('storage/metadata/postgres/postgres-metadata.js')),
      'the compiled adapter is missing: run `npm run build` first',
    ).toBe(true)
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-queue-pg-'))
    try {
      await withPostgresDb(async (url) => {
        const db = await openPostgresMetadata(url)
        try {
          const queue = new SqlJobQueue(db)
          for (let n = 0; n < 30; n++) await queue.enqueue({ kind: 'multi', payload: { n } })
          const script = path.join(dir, 'worker.mjs')
          await writeFile(script, workerScript)

          // The workers migrate on open too: all three at once, on a database that is already migrated.
          const children = ['w1', 'w2', 'w3'].map((id) => startWorker(script, url, id))
          await Promise.all(children.map((c) => c.ready))
          for (const child of children) child.go()
          const results = await Promise.all(children.map((c) => c.exited))

          for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 })
          const perWorker = results.map((r) => JSON.parse(r.stdout.split('\n').at(-2) ?? '[]') as number[])
          expect(perWorker.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n))
          const jobs = await queue.list({ kind: 'multi' })
          expect(jobs.map((j) => [j.state, j.attempts, j.token])).toEqual(
            Array.from({ length: 30 }, () => ['succeeded', 1, 1]),
          )
          for (const [i, job] of jobs.entries()) {
            expect(perWorker[['w1', 'w2', 'w3'].indexOf(job.leaseOwner ?? '')]).toContain(i)
            expect(job.result).toEqual({ workerId: job.leaseOwner })
          }
          expect(
            await db
              .selectFrom('datasets')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirst(),
          ).toEqual({ n: 30 })
          console.log(`jobs per worker on PostgreSQL: ${perWorker.map((d) => d.length).join(', ')}`)
        } finally {
          await db.destroy()
        }
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
