import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { recordBatch } from '../src/data/record-batch.js'
import { Runs } from '../src/orchestration/runs.js'
import { Registry, type NewModel } from '../src/registry/registry.js'
import { LocalBlobStore } from '../src/storage/blobs/local/local-blob-store.js'
import type { MetadataDb } from '../src/storage/metadata/database.js'
import { openPostgresMetadata } from '../src/storage/metadata/postgres/postgres-metadata.js'
import { SqlJobQueue } from '../src/storage/queue/sql-job-queue.js'
import { createTestDatabase, postgresSkipReason, type TestDatabase } from './support/postgres.js'

// Numbers taken as `max + 1` (model versions, alias moves, run events, batches) by many writers at once on
// PostgreSQL, where READ COMMITTED would let two of them read the same maximum: none may fail or share a number.

const skip = await postgresSkipReason()
const writers = 12

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

function model(pipeline: string, tag: string): NewModel {
  return {
    pipeline,
    task: 'binary',
    trainer: 'linear',
    manifest: { tag },
    weights: new TextEncoder().encode(tag),
    metrics: {},
    lineage: { tag },
  }
}

describe.skipIf(skip !== undefined)('numbering under concurrent writers on PostgreSQL', () => {
  let database: TestDatabase
  let db: MetadataDb
  let dir: string
  let registry: Registry

  beforeEach(async () => {
    database = await createTestDatabase()
    // As many connections as writers, so that every write is in flight at once.
    db = await openPostgresMetadata(database.url, { maxConnections: writers })
    dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-pg-seq-'))
    registry = new Registry(db, await LocalBlobStore.open(dir))
  })
  afterEach(async () => {
    await db.destroy()
    await database.drop()
    await rm(dir, { recursive: true, force: true })
  })

  it('model versions of one pipeline are 1, 2, 3… with none taken twice', async () => {
    const artifact = await registry.storeArtifact(model('spam', 'one artifact'))
    const versions = await Promise.all(
      range(writers).map((i) => registry.record(model('spam', `v${i}`), artifact).then((v) => v.version)),
    )
    expect(versions.sort((a, b) => a - b)).toEqual(range(writers))
    expect((await registry.versions('spam')).map((v) => v.lineage)).toHaveLength(writers)
  })

  it('moves of a pipeline’s aliases are numbered 1, 2, 3… in the order they committed', async () => {
    const artifact = await registry.storeArtifact(model('spam', 'one artifact'))
    await registry.record(model('spam', 'v1'), artifact)
    await Promise.all(
      range(writers).map((i) =>
        registry.moveAlias({
          pipeline: 'spam',
          alias: `a${i}`,
          version: 1,
          expected: null,
          actor: 't',
          reason: `move ${i}`,
        }),
      ),
    )
    const rows = await db
      .selectFrom('alias_history')
      .select(['seq', 'alias'])
      .where('pipeline', '=', 'spam')
      .orderBy('seq')
      .execute()
    expect(rows.map((r) => r.seq)).toEqual(range(writers))
    expect(new Set(rows.map((r) => r.alias)).size).toBe(writers)
    expect(await registry.aliasAt('spam', 'a1', new Date())).toBe(1)
  })

  it('events of one run are numbered 1, 2, 3… whoever writes them', async () => {
    const runs = new Runs(db, new SqlJobQueue(db))
    const run = await runs.enqueue({ pipeline: 'spam', trigger: { type: 'manual', actor: 'test' } })
    const events = await Promise.all(
      range(writers).map((i) =>
        runs.append(run.id, 0, { type: 'phase', phase: 'train', message: `event ${i}` }),
      ),
    )
    // The run's first event is its `queued` state.
    expect(events.map((e) => e.seq).sort((a, b) => a - b)).toEqual(range(writers).map((n) => n + 1))
    expect((await runs.events(run.id)).map((e) => e.seq)).toEqual(range(writers + 1))
  })

  it('batches of one dataset are numbered 1, 2, 3…, and their first schema is recorded once', async () => {
    const columns = [{ name: 'text', type: 'string' as const, storage: 'VARCHAR' }]
    const batches = await Promise.all(
      range(writers).map((i) =>
        recordBatch(db, {
          dataset: 'emails',
          sha256: `sha-${i}`,
          sourceName: `part-${i}.csv`,
          detected: { format: 'csv', compression: 'none' },
          sizeBytes: 10,
          rows: 1,
          columns,
          declared: false,
          originalKey: `k${i}`,
          dataKey: `k${i}`,
          minEventTime: null,
          maxEventTime: null,
          statistics: [],
          state: 'accepted',
        }),
      ),
    )
    expect(batches.map((b) => b.batch.seq).sort((a, b) => a - b)).toEqual(range(writers))
    expect(await db.selectFrom('schema_versions').select('version').execute()).toEqual([{ version: 1 }])
  })
})
