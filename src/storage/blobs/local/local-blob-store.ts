import { createHash, randomUUID } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { mkdir, open, readFile, readdir, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { errnoCode, FreshetError } from '../../../core/errors.js'
import type { BlobInfo, BlobOptions, BlobStore, PutResult } from '../blob-store.js'
import { validateBlobKey, validateBlobPrefix } from '../keys.js'
import { abortedError, chunksOf, throwIfAborted } from './streams.js'

/** Where writes in progress live: inside the root, so the final rename never crosses filesystems. */
const tmpFolder = '.tmp'
const missing = new Set(['ENOENT', 'ENOTDIR', 'EISDIR'])

/**
 * A {@link BlobStore} on the local filesystem: the object under `a/b.csv` is the file `<root>/a/b.csv`.
 *
 * Writes go to `<root>/.tmp/`, are fsynced, renamed into place and the folder fsynced, so after a crash a key
 * holds the old bytes or the new ones. Keys are validated before any I/O, resolved paths must stay inside the
 * root, and a symlink leading out of the root is refused. The store never creates symlinks; `list` skips them.
 *
 * @example
 * const store = await LocalBlobStore.open('.freshet/blobs')
 * await store.put('models/spam/1/weights.bin', bytes)
 */
export class LocalBlobStore implements BlobStore {
  private constructor(
    /** The root as a real path (symlinks resolved), so containment checks compare like with like. */
    readonly root: string,
  ) {}

  /** Opens (and creates) a store rooted at `root`. */
  static async open(root: string): Promise<LocalBlobStore> {
    await mkdir(root, { recursive: true })
    const realRoot = await realpath(root)
    await mkdir(path.join(realRoot, tmpFolder), { recursive: true })
    return new LocalBlobStore(realRoot)
  }

  async put(key: string, bytes: Uint8Array | string, options: BlobOptions = {}): Promise<PutResult> {
    validateBlobKey(key)
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes
    return this.write(key, [data], options.signal)
  }

  async putStream(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: BlobOptions = {},
  ): Promise<PutResult> {
    validateBlobKey(key)
    return this.write(key, chunksOf(key, body, options.signal), options.signal)
  }

  async get(key: string, options: BlobOptions = {}): Promise<Uint8Array> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    const file = await this.pathOf(key)
    try {
      const bytes = await readFile(file, options.signal === undefined ? {} : { signal: options.signal })
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    } catch (error) {
      throw this.translate(key, error, options.signal)
    }
  }

  async getStream(key: string, options: BlobOptions = {}): Promise<Readable> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    const file = await this.pathOf(key)
    let handle: FileHandle | undefined
    try {
      handle = await open(file, 'r')
      if (!(await handle.stat()).isFile()) throw this.notFound(key)
    } catch (error) {
      await handle?.close()
      throw this.translate(key, error, options.signal)
    }
    // The open handle keeps reading the object it opened, even if a put replaces the key meanwhile.
    return handle.createReadStream(options.signal === undefined ? {} : { signal: options.signal })
  }

  async head(key: string, options: BlobOptions = {}): Promise<BlobInfo | undefined> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    try {
      const info = await stat(await this.pathOf(key))
      return info.isFile() ? { key, size: info.size, modifiedAt: info.mtime } : undefined
    } catch (error) {
      if (missing.has(errnoCode(error) ?? '')) return undefined
      throw error
    }
  }

  async list(prefix: string, options: BlobOptions = {}): Promise<BlobInfo[]> {
    validateBlobPrefix(prefix)
    throwIfAborted(prefix, options.signal)
    const slash = prefix.lastIndexOf('/')
    const folderKey = prefix.slice(0, slash + 1)
    const namePrefix = prefix.slice(slash + 1)
    const folder = folderKey === '' ? this.root : await this.pathOf(folderKey.slice(0, -1))
    const found: BlobInfo[] = []
    await this.walk(folder, folderKey, namePrefix, found, options.signal)
    // UTF-8 byte order, as S3 lists.
    return found
      .map((info) => ({ info, bytes: Buffer.from(info.key, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
      .map(({ info }) => info)
  }

  async delete(key: string, options: BlobOptions = {}): Promise<void> {
    validateBlobKey(key)
    throwIfAborted(key, options.signal)
    const file = await this.pathOf(key)
    try {
      await unlink(file)
    } catch (error) {
      if (missing.has(errnoCode(error) ?? '')) return
      // macOS answers EPERM for unlinking a folder: a folder is not an object, so there is nothing to delete.
      if (errnoCode(error) === 'EPERM' && (await stat(file)).isDirectory()) return
      throw error
    }
    await this.pruneEmptyFolders(path.dirname(file))
  }

  /** Nothing to release: every method opens and closes its own files. */
  close(): Promise<void> {
    return Promise.resolve()
  }

  /** Streams `chunks` into a temp file, hashing as it goes, then publishes it under `key`. */
  private async write(
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    throwIfAborted(key, signal)
    const target = await this.pathOf(key)
    const temp = path.join(this.root, tmpFolder, randomUUID())
    const hash = createHash('sha256')
    let size = 0
    try {
      const handle = await open(temp, 'wx')
      try {
        for await (const chunk of chunks) {
          throwIfAborted(key, signal)
          hash.update(chunk)
          size += chunk.byteLength
          for (let offset = 0; offset < chunk.byteLength;) {
            offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten
          }
        }
        await handle.sync()
      } finally {
        await handle.close()
      }
      throwIfAborted(key, signal)
      await this.publish(key, temp, target)
    } catch (error) {
      await unlink(temp).catch(() => undefined)
      throw error
    }
    return { key, size, sha256: hash.digest('hex') }
  }

  /** Renames the finished temp file over `target` and fsyncs every folder whose entries changed. */
  private async publish(key: string, temp: string, target: string): Promise<void> {
    const folder = path.dirname(target)
    let firstMade: string | undefined
    // A concurrent delete may prune the folder between mkdir and rename; the retry makes it again.
    for (let attempt = 1; ; attempt++) {
      try {
        firstMade = (await mkdir(folder, { recursive: true })) ?? firstMade
        await rename(temp, target)
        break
      } catch (error) {
        const code = errnoCode(error)
        if (code === 'ENOENT' && attempt < 3) continue
        if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENOTEMPTY') {
          throw new FreshetError('INVALID_KEY', `blob key ${JSON.stringify(key)} clashes with another key`, {
            cause: error,
            hint: 'on a local store a key cannot be both an object and a folder ("a" and "a/b"); delete one first',
          })
        }
        throw error
      }
    }
    const lowest = firstMade === undefined ? folder : path.dirname(firstMade)
    for (let dir = folder; ; dir = path.dirname(dir)) {
      await syncFolder(dir)
      if (dir === lowest || dir === this.root) break
    }
  }

  /**
   * The file for `key`, after checking it stays inside the root: lexically, and through the real path of the
   * deepest part of it that exists, so a symlink leading out of the root is refused rather than followed.
   */
  private async pathOf(key: string): Promise<string> {
    const target = path.resolve(this.root, ...key.split('/'))
    const relative = path.relative(this.root, target)
    const first = relative.split(path.sep)[0]
    if (relative === '' || first === '..' || first === tmpFolder || path.isAbsolute(relative)) {
      throw this.outside(key, target)
    }
    for (let existing = target; ; existing = path.dirname(existing)) {
      let real: string
      try {
        real = await realpath(existing)
      } catch (error) {
        if (missing.has(errnoCode(error) ?? '') && existing !== this.root) continue
        throw error
      }
      const inside = path.relative(this.root, real)
      if (inside === '' || !(inside.split(path.sep)[0] === '..' || path.isAbsolute(inside))) return target
      throw this.outside(key, real)
    }
  }

  private async walk(
    folder: string,
    folderKey: string,
    namePrefix: string,
    out: BlobInfo[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    throwIfAborted(folderKey, signal)
    let entries
    try {
      entries = await readdir(folder, { withFileTypes: true })
    } catch (error) {
      if (missing.has(errnoCode(error) ?? '')) return
      throw error
    }
    for (const entry of entries) {
      if (!entry.name.startsWith(namePrefix)) continue
      if (folderKey === '' && entry.name.startsWith('.')) continue
      const full = path.join(folder, entry.name)
      const key = folderKey + entry.name
      if (entry.isDirectory()) {
        await this.walk(full, key + '/', '', out, signal)
      } else if (entry.isFile()) {
        const info = await stat(full).catch((error: unknown) => {
          if (missing.has(errnoCode(error) ?? '')) return undefined
          throw error
        })
        if (info?.isFile()) out.push({ key, size: info.size, modifiedAt: info.mtime })
      }
    }
  }

  /** Removes folders a delete left empty, up to (not including) the root. */
  private async pruneEmptyFolders(folder: string): Promise<void> {
    for (
      let dir = folder;
      dir !== this.root && dir.startsWith(this.root + path.sep);
      dir = path.dirname(dir)
    ) {
      try {
        await rmdir(dir)
      } catch {
        return
      }
    }
  }

  private translate(key: string, error: unknown, signal: AbortSignal | undefined): unknown {
    if (error instanceof FreshetError) return error
    if (signal?.aborted === true) return abortedError(key, signal)
    if (missing.has(errnoCode(error) ?? '')) return this.notFound(key, error)
    return error
  }

  private notFound(key: string, cause?: unknown): FreshetError {
    return new FreshetError(
      'BLOB_NOT_FOUND',
      `no blob is stored under key ${JSON.stringify(key)} in ${this.root}`,
      {
        cause,
        hint: 'check the key with list(); it may have been deleted or never written',
      },
    )
  }

  private outside(key: string, where: string): FreshetError {
    return new FreshetError(
      'INVALID_KEY',
      `blob key ${JSON.stringify(key)} leads outside the store to ${where}`,
      {
        hint: `a symlink or odd path inside ${this.root} points elsewhere; remove it`,
      },
    )
  }
}

/** Makes a rename or a new entry durable. Windows cannot open folders, and does not need this. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return
  const handle = await open(folder, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
