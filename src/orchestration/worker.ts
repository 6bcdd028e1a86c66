import { randomBytes } from 'node:crypto'
import os from 'node:os'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import type { Claim, JobQueue } from '../storage/queue/job-queue.js'
import { executeRun, type Execution, type WorkResult } from './execute-run.js'
import { runJobKind, type Runs } from './runs.js'

export interface WorkerOptions {
  /** Recorded as the lease owner; host, pid and a random suffix by default. */
  readonly id?: string
  /** How long a claim lasts without a heartbeat (default 30 s); a dead worker's run is retried after it. */
  readonly leaseMs?: number
  /** Default a third of the lease. */
  readonly heartbeatMs?: number
  /** How often an idle worker looks for work (default 1 s); runs enqueued in this process wake it at once. */
  readonly pollMs?: number
  /** The platform's by default; tests pass queues with their own clock. */
  readonly queue?: JobQueue
  readonly runs?: Runs
  /** Heap limit of the trainer process in MiB. */
  readonly maxHeapMb?: number
  readonly onClaim?: (claim: Claim) => void
  readonly onResult?: (result: WorkResult) => void
  /** An error of the worker's own loop (the database went away); the loop goes on after `pollMs`. */
  readonly onError?: (error: unknown) => void
  /** Fault injection for tests, see {@link Execution.beforeCommit}. */
  readonly beforeCommit?: Execution['beforeCommit']
}

/**
 * Claims `run` jobs one at a time and executes them (see `executeRun`). Several workers, in one process or many,
 * share the queue; each run is executed by one of them at a time, and at most one attempt commits.
 *
 * @example
 * const worker = new Worker(platform)
 * worker.start()
 * process.once('SIGTERM', () => void worker.stop({ timeoutMs: 30_000 }))
 */
export class Worker {
  readonly id: string
  private readonly queue: JobQueue
  private readonly runs: Runs
  private readonly leaseMs: number
  private readonly release = new AbortController()
  private loop: Promise<void> | undefined
  private current: Promise<WorkResult> | undefined
  private stopping = false
  private wake: () => void = () => undefined
  /** A run was enqueued in this process since the worker last looked. */
  private nudged = false
  private lastReconcile = Number.NEGATIVE_INFINITY

  constructor(
    private readonly platform: Platform,
    private readonly options: WorkerOptions = {},
  ) {
    this.id = (options.id ?? `${os.hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`).slice(
      0,
      128,
    )
    this.queue = options.queue ?? platform.queue
    this.runs = options.runs ?? platform.runs
    this.leaseMs = options.leaseMs ?? 30_000
  }

  /** Starts claiming in the background until {@link stop}. */
  start(): void {
    if (this.loop !== undefined || this.stopping) return
    const off = this.runs.bus.onEnqueued(() => {
      this.nudged = true
      this.wake()
    })
    this.loop = (async () => {
      try {
        while (!this.stopping) {
          let result: WorkResult | undefined
          try {
            result = await this.runOnce()
          } catch (error) {
            this.options.onError?.(error)
          }
          if (result === undefined && !this.stopping) await this.idle()
        }
      } finally {
        off()
      }
    })()
  }

  /** Claims one due run and executes it; undefined when none is due (or the worker is stopping). */
  async runOnce(): Promise<WorkResult | undefined> {
    if (this.stopping) return undefined
    this.nudged = false
    if (performance.now() - this.lastReconcile > 5_000) {
      this.lastReconcile = performance.now()
      await this.runs.reconcile()
    }
    const claim = await this.queue.claim(this.id, { kinds: [runJobKind], leaseMs: this.leaseMs })
    if (claim === undefined) return undefined
    if (this.stopping) {
      // Stopped while claiming: hand the job straight back, the run never started.
      await this.queue.fail(
        claim.job.id,
        claim.token,
        new FreshetError('ABORTED', `worker ${this.id} is stopping`),
        { retryable: true },
      )
      return undefined
    }
    this.options.onClaim?.(claim)
    const execution = executeRun({
      platform: this.platform,
      runs: this.runs,
      queue: this.queue,
      claim,
      workerId: this.id,
      leaseMs: this.leaseMs,
      heartbeatMs: this.options.heartbeatMs ?? Math.max(1, Math.floor(this.leaseMs / 3)),
      release: this.release.signal,
      ...(this.options.maxHeapMb === undefined ? {} : { maxHeapMb: this.options.maxHeapMb }),
      ...(this.options.beforeCommit === undefined ? {} : { beforeCommit: this.options.beforeCommit }),
    })
    this.current = execution
    try {
      const result = await execution
      this.options.onResult?.(result)
      return result
    } finally {
      this.current = undefined
    }
  }

  /**
   * Stops claiming, lets the current run finish for up to `timeoutMs` (default 30 s), then kills its trainer and
   * hands the run back to the queue for another attempt. Resolves when the worker is idle.
   */
  async stop(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.stopping = true
    this.wake()
    const current = this.current
    if (current !== undefined) {
      let timer: NodeJS.Timeout | undefined
      const finished = await Promise.race([
        current.then(() => true),
        new Promise<boolean>(
          (resolve) => (timer = setTimeout(() => resolve(false), options.timeoutMs ?? 30_000)),
        ),
      ])
      clearTimeout(timer)
      if (!finished) this.release.abort()
      await current
    }
    await this.loop
  }

  private idle(): Promise<void> {
    if (this.nudged) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollMs ?? 1_000)
      this.wake = done
      function done() {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}
