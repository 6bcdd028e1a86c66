import { describe, expect, it } from 'vitest'
import { createTestDatabase, postgresSkipReason, withPostgresDb } from '../../../test/support/postgres.js'
import { openPostgresMetadata } from '../metadata/postgres/postgres-metadata.js'
import { describeJobQueueContract } from './job-queue.contract.js'
import { checkThreeWorkerProcesses } from './multi-process.contract.js'
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

describe.skipIf(skip !== undefined)('SqlJobQueue on PostgreSQL across processes', () => {
  it('three worker processes complete 30 jobs: each exactly once, none lost', async () => {
    await withPostgresDb(async (url) => {
      const db = await openPostgresMetadata(url)
      try {
        const counts = await checkThreeWorkerProcesses(db, url, { module: 'storage/metadata/postgres/postgres-metadata.js', exportName: 'openPostgresMetadata', options: '{ maxConnections: 2 }' })
        console.log(`jobs per worker on PostgreSQL: ${counts.join(', ')}`)
      } finally {
        await db.destroy()
      }
    })
  })
})
