import type { TrainerLogLine } from '../training/runner.js'
import { LeaseLostError, type JobQueue } from '../storage/queue/job-queue.js'
import { insertEvent } from './run-rows.js'
import type { Runs } from './runs.js'
import type { RunWriter } from './run-writer.js'
import type { RunEventBody, RunError, StepName, StepStatus } from './run-types.js'

/** Stored log lines per attempt; beyond this they are counted, not stored (the trainer may print in a loop). */
const maxLogLines = 2000
const logFlushMs = 250

/**
 * The writes of one attempt of a run, in order: fenced ones (steps, state) through the job's lease transaction,
 * the rest (progress, logs) as plain history. Every write waits for the earlier ones, so events are stored and
 * published in order. Writes started from synchronous callbacks (trainer events) run in the background; the
 * first failure among them is rethrown by {@link flush}.
 */
export class RunSession {
  private chain: Promise<unknown> = Promise.resolve()
  private failure: unknown
  private logs: TrainerLogLine[] = []
  private logTimer: NodeJS.Timeout | undefined
  private storedLogLines = 0
  private droppedLogLines = 0

  constructor(
    private readonly runs: Runs,
    private readonly queue: JobQueue,
    readonly runId: string,
    readonly jobId: string,
    readonly token: number,
    /** Called when a write finds the lease lost (superseded, cancelled, finished). */
    private readonly onLost: (error: LeaseLostError) => void,
  ) {}

  /** Runs `fn` in the lease transaction, after every earlier write; publishes its events once committed. */
  fenced<T>(fn: (writer: RunWriter) => Promise<T>): Promise<T> {
    // Log lines printed before this write come before it in the history.
    this.flushLogs()
    return this.serial(async () => {
      let writer: RunWriter | undefined
      try {
        const result = await this.queue.withLease(this.jobId, this.token, async (trx) => {
          writer = this.runs.writer(trx, this.runId, this.token)
          return fn(writer)
        })
        for (const event of writer?.events ?? []) this.runs.bus.publish(event)
        return result
      } catch (error) {
        if (error instanceof LeaseLostError) this.onLost(error)
        throw error
      }
    })
  }

  step(
    name: StepName,
    status: StepStatus,
    details?: Record<string, unknown>,
    error?: RunError,
  ): Promise<void> {
    return this.fenced((w) => w.step(name, status, details, error))
  }

  /** A fenced write started from a synchronous callback. */
  background(write: Promise<unknown>): void {
    write.catch((error: unknown) => {
      this.failure ??= error
    })
  }

  /**
   * Stores and publishes a history event, only while this attempt holds the lease: a worker that was paused past
   * its lease must not add progress to a run another worker finished. A failure to store it does not fail the run.
   */
  event(body: RunEventBody): void {
    this.serial(() => this.queue.withLease(this.jobId, this.token, (trx) => insertEvent(trx, this.runId, this.token, this.runs.now().toISOString(), body)))
      .then((event) => this.runs.bus.publish(event))
      .catch((error: unknown) => {
        if (error instanceof LeaseLostError) this.onLost(error)
      })
  }

  log(line: TrainerLogLine): void {
    if (this.storedLogLines + this.logs.length >= maxLogLines) {
      this.droppedLogLines++
      return
    }
    this.logs.push(line)
    if (this.logs.length >= 100) this.flushLogs()
    else this.logTimer ??= setTimeout(() => this.flushLogs(), logFlushMs)
  }

  /** Waits for every write so far; throws the first background failure. */
  async flush(): Promise<void> {
    this.flushLogs()
    await this.chain
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a write threw, as it was
    if (this.failure !== undefined) throw this.failure
  }

  /** Stores what is pending and stops; never throws. */
  async close(): Promise<void> {
    this.flushLogs()
    if (this.droppedLogLines > 0) {
      this.event({
        type: 'log',
        lines: [
          {
            stream: 'stderr',
            line: `[freshet] ${this.droppedLogLines} more log lines were not stored (at most ${maxLogLines} per attempt)`,
          },
        ],
      })
      this.droppedLogLines = 0
    }
    await this.chain
  }

  private flushLogs(): void {
    if (this.logTimer !== undefined) clearTimeout(this.logTimer)
    this.logTimer = undefined
    if (this.logs.length === 0) return
    const lines = this.logs
    this.logs = []
    this.storedLogLines += lines.length
    this.event({ type: 'log', lines })
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.chain.then(op)
    this.chain = next.catch(() => undefined)
    return next
  }
}
