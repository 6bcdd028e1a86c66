import path from 'node:path'
import type { LoadedConfig } from '../config/load.js'
import { removeStaleScratch } from './scratch.js'
import type { BlobStore } from '../storage/blobs/blob-store.js'
import type { MetadataDb } from '../storage/metadata/database.js'
import { Registry } from '../registry/registry.js'
import { Runs } from '../orchestration/runs.js'
import type { JobQueue } from '../storage/queue/job-queue.js'
import type { EventLog } from '../storage/log/event-log.js'
import { topicLimits } from '../streaming/topics.js'

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
  /** The event log (topics): embedded in the metadata database, or NATS JetStream. */
  readonly log: EventLog
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

/** The blob store the configuration names: a folder in the state folder by default, or S3. */
async function openBlobs(config: LoadedConfig): Promise<BlobStore> {
  const backend = config.config.backend
  const url = backend?.blobs ?? 'local'
  if (url === 'local') {
    const { LocalBlobStore } = await import('../storage/blobs/local/local-blob-store.js')
    return LocalBlobStore.open(path.join(config.stateDir, 'blobs'))
  }
  // The SDK warns on every start under Node 20 that its releases after January 2027 will need Node 22; the version
  // this package locks supports Node 20, so the warning only adds noise to every command (set it to 'false' to see it).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const { S3BlobStore } = await import('../storage/blobs/s3/s3-blob-store.js')
  const s3 = backend?.s3 ?? {}
  return S3BlobStore.open(url, {
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.region === undefined ? {} : { region: s3.region }),
    ...(s3.forcePathStyle === undefined ? {} : { forcePathStyle: s3.forcePathStyle }),
  })
}

/** The event log the configuration names: embedded in the metadata database by default, or NATS JetStream. */
async function openLog(config: LoadedConfig, db: MetadataDb, clock: { now?: () => Date }): Promise<EventLog> {
  const url = config.config.backend?.log ?? 'embedded'
  const options = { ...clock, topicLimits: topicLimits(config) }
  if (url === 'embedded') {
    const { EmbeddedEventLog } = await import('../storage/log/embedded/embedded-event-log.js')
    return new EmbeddedEventLog(db, options)
  }
  const { NatsEventLog } = await import('../storage/log/nats/nats-event-log.js')
  return NatsEventLog.open(url, db, options)
}

/**
 * Opens the platform the configuration describes: metadata on SQLite (default) or PostgreSQL, blobs in a local
 * folder inside the state folder (default) or on S3.
 */
export async function openPlatform(config: LoadedConfig, options: PlatformOptions = {}): Promise<Platform> {
  const { SqlJobQueue } = await import('../storage/queue/sql-job-queue.js')
  await removeStaleScratch(config.stateDir)
  const db = await openMetadata(config)
  let blobs: BlobStore
  try {
    blobs = await openBlobs(config)
  } catch (error) {
    await db.destroy()
    throw error
  }
  const clock = options.now === undefined ? {} : { now: options.now }
  const queue = new SqlJobQueue(db, clock)
  let log: EventLog
  try {
    log = await openLog(config, db, clock)
  } catch (error) {
    await blobs.close()
    await db.destroy()
    throw error
  }
  return {
    config,
    db,
    blobs,
    registry: new Registry(db, blobs),
    queue,
    runs: new Runs(db, queue, clock),
    log,
    async close() {
      await log.close()
      await blobs.close()
      await db.destroy()
    },
  }
}
