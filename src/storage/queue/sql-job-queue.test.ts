import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, it } from 'vitest'
import { openSqliteMetadata } from '../metadata/sqlite/sqlite-metadata.js'
import { describeJobQueueContract } from './job-queue.contract.js'
import { checkThreeWorkerProcesses } from './multi-process.contract.js'
import { SqlJobQueue } from './sql-job-queue.js'

describeJobQueueContract({
  name: 'SQL on SQLite',
  create: async (options) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-queue-'))
    const file = path.join(dir, 'freshet.db')
    const db = await openSqliteMetadata(file)
    return {
      db,
      queue: new SqlJobQueue(db, options),
      connect: async () => {
        const other = await openSqliteMetadata(file)
        return { queue: new SqlJobQueue(other, options), close: () => other.destroy() }
      },
      cleanup: async () => {
        await db.destroy()
        await rm(dir, { recursive: true, force: true })
      },
    }
  },
})

describe('SqlJobQueue on SQLite across processes', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-queue-mp-'))
  })
  afterEach(async () => rm(dir, { recursive: true, force: true }))

  it('three worker processes complete 30 jobs: each exactly once, none lost', async () => {
    const file = path.join(dir, 'freshet.db')
    const db = await openSqliteMetadata(file)
    try {
      const counts = await checkThreeWorkerProcesses(db, file, { module: 'storage/metadata/sqlite/sqlite-metadata.js', exportName: 'openSqliteMetadata' })
      console.log(`jobs per worker: ${counts.join(', ')}`)
    } finally {
      await db.destroy()
    }
  })
})
