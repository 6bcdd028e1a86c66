import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Platform } from '../../app/platform.js'
import { errnoCode, isFreshetError } from '../../core/errors.js'
import { ingestFile, type IngestResult } from '../../data/ingest.js'
import type { Run } from '../run-types.js'
import { doneSuffix, exists, failedDir, moveAside, processedDir, writeReason } from './landing-files.js'
import { enqueueStorageRuns } from './storage.js'

/** What the landing watcher did with one file. */
export type LandingEvent =
  | {
      readonly type: 'processed'
      readonly dataset: string
      readonly file: string
      /** Where the file is now (under `.processed/`). */
      readonly movedTo: string
      readonly result: IngestResult
      /** True when the batch went to quarantine: the batch keeps the bytes, so the file still counts as processed. */
      readonly quarantined: boolean
      readonly runs: readonly Run[]
    }
  | {
      readonly type: 'failed'
      readonly dataset: string
      readonly file: string
      /** Where the file is now (under `.failed/`), with `<name>.reason.txt` beside it. */
      readonly movedTo: string
      readonly error: unknown
    }
  /** The watcher could not read the folder or move a file; it tries again at the next poll. */
  | { readonly type: 'error'; readonly dataset: string; readonly file?: string; readonly error: unknown }

export interface LandingWatcherOptions {
  /** How often each landing folder is listed (default 1000 ms). */
  readonly pollMs?: number
  /** Clock of timestamps in clashing names and reason files. */
  readonly now?: () => Date
  readonly onEvent?: (event: LandingEvent) => void
  /** Called after each file that made a batch (the trigger evaluator looks at the dataset's data triggers). */
  readonly afterIngest?: (dataset: string, result: IngestResult) => Promise<void>
}

interface Seen {
  readonly size: number
  readonly mtimeMs: number
}

/**
 * The storage trigger's watcher: lists each dataset's `landing` folder every `pollMs` and ingests the files that
 * are complete (size and mtime unchanged across two polls, or a `<name>.done` marker beside them), one at a time.
 * Then the file (and its marker) moves to `.processed/` (ingested, duplicate or quarantined) or to `.failed/` with a
 * `<name>.reason.txt` (ingest threw). Nothing is deleted; dotfiles are ignored. Pipelines with `{ on: 'storage' }`
 * get a run per accepted batch.
 */
export class LandingWatcher {
  private readonly pollMs: number
  private readonly now: () => Date
  private readonly seen = new Map<string, Seen>()
  private readonly abort = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private polling: Promise<void> = Promise.resolve()

  constructor(
    private readonly platform: Platform,
    private readonly options: LandingWatcherOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000
    this.now = options.now ?? (() => new Date())
  }

  /** Each dataset with a landing folder, and the folder's absolute path. */
  get folders(): { dataset: string; dir: string }[] {
    return Object.entries(this.platform.config.config.datasets ?? {}).flatMap(([dataset, spec]) =>
      spec.landing === undefined
        ? []
        : [{ dataset, dir: path.resolve(this.platform.config.root, spec.landing) }],
    )
  }

  /** Polls now and every `pollMs` until {@link stop}. */
  start(): void {
    if (this.timer !== undefined || this.abort.signal.aborted) return
    const tick = () => {
      this.polling = this.poll().then(() => {
        if (!this.abort.signal.aborted) this.timer = setTimeout(tick, this.pollMs)
      })
    }
    this.timer = setTimeout(tick, 0)
  }

  /** Stops polling; an ingest in progress is cancelled and its file left where it is for the next start. */
  async stop(): Promise<void> {
    this.abort.abort()
    clearTimeout(this.timer)
    await this.polling
  }

  /** One pass over every landing folder. Never rejects: problems go to `onEvent`. */
  async poll(): Promise<void> {
    for (const { dataset, dir } of this.folders) {
      if (this.abort.signal.aborted) return
      let names: string[]
      try {
        const entries = await readdir(dir, { withFileTypes: true })
        names = entries
          .filter((e) => e.isFile() && !e.name.startsWith('.') && !e.name.endsWith(doneSuffix))
          .map((e) => e.name)
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') this.options.onEvent?.({ type: 'error', dataset, error })
        continue
      }
      const present = new Set(names.map((n) => path.join(dir, n)))
      for (const key of this.seen.keys())
        if (path.dirname(key) === dir && !present.has(key)) this.seen.delete(key)
      for (const name of names.sort()) {
        if (this.abort.signal.aborted) return
        const file = path.join(dir, name)
        try {
          if (await this.complete(file)) await this.take(dataset, dir, file)
        } catch (error) {
          this.options.onEvent?.({ type: 'error', dataset, file, error })
        }
      }
    }
  }

  private async complete(file: string): Promise<boolean> {
    let info
    try {
      info = await stat(file)
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false
      throw error
    }
    const now: Seen = { size: info.size, mtimeMs: info.mtimeMs }
    const before = this.seen.get(file)
    this.seen.set(file, now)
    if (await exists(file + doneSuffix)) return true
    return before !== undefined && before.size === now.size && before.mtimeMs === now.mtimeMs
  }

  private async take(dataset: string, dir: string, file: string): Promise<void> {
    let result: IngestResult
    try {
      result = await ingestFile(this.platform, dataset, file, {
        signal: this.abort.signal,
        displayName: path.basename(file),
      })
    } catch (error) {
      if (this.abort.signal.aborted) return
      if (isFreshetError(error, 'FILE_NOT_FOUND') && !(await exists(file))) return
      const movedTo = await this.moveWithMarker(file, path.join(dir, failedDir))
      this.seen.delete(file)
      await writeReason(movedTo, error, this.now())
      this.options.onEvent?.({ type: 'failed', dataset, file, movedTo, error })
      return
    }
    // Runs first, then the move: after a crash in between, the file is taken again as a duplicate and any missing
    // run is enqueued then.
    const runs = await enqueueStorageRuns(this.platform, dataset, result, path.basename(file))
    if (result.status === 'ingested') await this.options.afterIngest?.(dataset, result)
    const movedTo = await this.moveWithMarker(file, path.join(dir, processedDir))
    this.seen.delete(file)
    this.options.onEvent?.({
      type: 'processed',
      dataset,
      file,
      movedTo,
      result,
      quarantined: result.batch.state === 'quarantined',
      runs,
    })
  }

  private async moveWithMarker(file: string, to: string): Promise<string> {
    const at = this.now()
    const movedTo = await moveAside(file, to, at)
    if (await exists(file + doneSuffix))
      await moveAside(file + doneSuffix, to, at, path.basename(movedTo) + doneSuffix)
    return movedTo
  }
}
