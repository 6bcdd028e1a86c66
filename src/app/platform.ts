import path from 'node:path'
import type { LoadedConfig } from '../config/load.js'
import { removeStaleScratch } from './scratch.js'
import type { BlobStore } from '../storage/blobs/blob-store.js'
import type { MetadataDb } from '../storage/metadata/database.js'
import { Registry } from '../registry/registry.js'
import { Runs } from '../orchestration/runs.js'
import type { JobQueue } from '../storage/queue/job-queue.js'

/**
 * A running Freshet: configuration plus the adapters chosen for it. This module is the only place that knows
 * which adapters are in use; everything else takes a Platform (or the ports it needs).
 */
export interface Platform {
  readonly config: LoadedConfig
  readonly db: MetadataDb
  readonly blobs: BlobStore
  readonly registry: Registry
  /** The durable job queue on the metadata database. */
  readonly queue: JobQueue
  /** Pipeline runs, executed through {@link queue} by workers. */
  readonly runs: Runs
  close(): Promise<void>
}

export interface PlatformOptions {
  /** The clock of the queue and runs (tests drive lease expiry with it). */
  readonly now?: () => Date
}

/** The metadata database the configuration names: SQLite in the state folder by default, or PostgreSQL. */
async function openMetadata(config: LoadedConfig): Promise<MetadataDb> {
  const url = config.config.backend?.metadata ?? 'sqlite'
  if (url === 'sqlite') {
    const { openSqliteMetadata } = await import('../storage/metadata/sqlite/sqlite-metadata.js')
    return openSqliteMetadata(path.join(config.stateDir, 'freshet.db'))
  }
  const { openPostgresMetadata } = await import('../storage/metadata/postgres/postgres-metadata.js')
  return openPostgresMetadata(url)
}

/**
 * Opens the platform the configuration describes: metadata on SQLite (default) or PostgreSQL, blobs in a local
 * folder inside the state folder.
 */
export async function openPlatform(config: LoadedConfig, options: PlatformOptions = {}): Promise<Platform> {
  const { LocalBlobStore } = await import('../storage/blobs/local/local-blob-store.js')
  const { SqlJobQueue } = await import('../storage/queue/sql-job-queue.js')
  await removeStaleScratch(config.stateDir)
  const db = await openMetadata(config)
  const blobs = await LocalBlobStore.open(path.join(config.stateDir, 'blobs'))
  const clock = options.now === undefined ? {} : { now: options.now }
  const queue = new SqlJobQueue(db, clock)
  return {
    config,
    db,
    blobs,
    registry: new Registry(db, blobs),
    queue,
    runs: new Runs(db, queue, clock),
    async close() {
      await blobs.close()
      await db.destroy()
    },
  }
}
