import type { Readable } from 'node:stream'

/** What a store knows about one stored object. */
export interface BlobInfo {
  readonly key: string
  readonly size: number
  readonly modifiedAt: Date
}

/** The outcome of a put: the key, its size and the sha256 (hex) of the bytes as written. */
export interface PutResult {
  readonly key: string
  readonly size: number
  readonly sha256: string
}

export interface BlobOptions {
  readonly signal?: AbortSignal
}

/**
 * Where Freshet keeps bytes: dataset batches (Parquet and the original files), quarantined input and model
 * artifacts. Keys are `/`-separated relative paths such as `datasets/emails/batches/<sha256>/data.parquet`.
 *
 * Invariants every adapter keeps (checked by `describeBlobStoreContract`):
 * - keys are validated with `validateBlobKey` before any I/O; a bad key throws `INVALID_KEY` and touches nothing;
 * - a put is atomic: readers see the old object or the whole new one, never a part;
 * - the sha256 returned by a put is of the bytes stored;
 * - `list(prefix)` returns every object under the prefix, sorted by key.
 */
export interface BlobStore {
  /** Stores `bytes` under `key`, replacing any object there. */
  put(key: string, bytes: Uint8Array | string, options?: BlobOptions): Promise<PutResult>
  /** Stores a stream under `key` without holding it in memory. */
  putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options?: BlobOptions,
  ): Promise<PutResult>
  /** @throws FreshetError `BLOB_NOT_FOUND` when nothing is stored under `key`. */
  get(key: string, options?: BlobOptions): Promise<Uint8Array>
  /** @throws FreshetError `BLOB_NOT_FOUND` when nothing is stored under `key`. */
  getStream(key: string, options?: BlobOptions): Promise<Readable>
  /** Size and time of the object, or undefined when there is none. */
  head(key: string, options?: BlobOptions): Promise<BlobInfo | undefined>
  /** Every object whose key starts with `prefix` (a `/`-ended folder or any key prefix), sorted by key. */
  list(prefix: string, options?: BlobOptions): Promise<BlobInfo[]>
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string, options?: BlobOptions): Promise<void>
  /** Releases resources. */
  close(): Promise<void>
}
