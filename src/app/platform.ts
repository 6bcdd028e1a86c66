import path from 'node:path'
import type { LoadedConfig } from '../config/load.js'
import type { BlobStore } from '../storage/blobs/blob-store.js'
import type { MetadataDb } from '../storage/metadata/database.js'
import { Registry } from '../registry/registry.js'

/**
 * A running Freshet: configuration plus the adapters chosen for it. This module is the only place that knows
 * which adapters are in use; everything else takes a Platform (or the ports it needs).
 */
export interface Platform {
  readonly config: LoadedConfig
  readonly db: MetadataDb
  readonly blobs: BlobStore
  readonly registry: Registry
  close(): Promise<void>
}

/** Opens the embedded default: SQLite metadata and a local blob directory inside the state folder. */
export async function openPlatform(config: LoadedConfig): Promise<Platform> {
  const { openSqliteMetadata } = await import('../storage/metadata/sqlite/sqlite-metadata.js')
  const { LocalBlobStore } = await import('../storage/blobs/local/local-blob-store.js')
  const db = await openSqliteMetadata(path.join(config.stateDir, 'freshet.db'))
  const blobs = await LocalBlobStore.open(path.join(config.stateDir, 'blobs'))
  return {
    config,
    db,
    blobs,
    registry: new Registry(db, blobs),
    async close() {
      await blobs.close()
      await db.destroy()
    },
  }
}
