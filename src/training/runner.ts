import { fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Platform } from '../app/platform.js'
import { FreshetError, errorCatalog, type ErrorCode } from '../core/errors.js'
import { packageRoot } from '../core/package-root.js'
import type { ProductionEvaluation } from '../evaluation/gate.js'
import type { BinaryMetrics, RegressionMetrics } from '../evaluation/metrics.js'
import type { HeadlineMetrics, ModelManifest } from './artifact.js'
import type { ChildMessage, TrainingJob } from './protocol.js'
import type { TrainingEvent, TrainingStrategy } from './run-training.js'

export interface ChildTrainingResult {
  manifest: ModelManifest
  weights: Uint8Array
  metrics: HeadlineMetrics
  evaluation: BinaryMetrics | RegressionMetrics
  lineage: Record<string, unknown>
  /** The pinned production model on the candidate's holdout rows; null when there was none. */
  production: ProductionEvaluation | null
  /** Holdout rows as serving instances, for the infra check. */
  samples: Record<string, unknown>[]
}

/** One line the trainer process wrote to its stdout or stderr. */
export interface TrainerLogLine {
  stream: 'stdout' | 'stderr'
  line: string
}

export interface RunnerOptions {
  signal?: AbortSignal
  onEvent?: (event: TrainingEvent) => void
  /** Each complete line the trainer process writes (a custom trainer's logging, a crash's stack trace). */
  onLog?: (log: TrainerLogLine) => void
  /** Train on exactly these batches (ids, still usable) instead of every usable batch: a run pins its data. */
  batchIds?: readonly string[]
  /** Heap limit of the trainer process in MiB (default 4096). */
  maxHeapMb?: number
  /** Overrides the pipeline's `training.strategy`. */
  strategy?: TrainingStrategy
  /**
   * The production version the caller read (and will compare-and-swap against): evaluated on the candidate's
   * holdout rows and, for a warm start, the parent. None when absent or null.
   */
  production?: number | null
}

/**
 * A compiled child entry point of this folder (`child.js`, `infra-check-child.js`): beside this file when running
 * from dist/, else in dist/ (tests run src/).
 */
export function childEntry(file = 'child.js'): string {
  const here = fileURLToPath(import.meta.url)
  const sibling = path.join(path.dirname(here), file)
  if (here.endsWith('.js') && existsSync(sibling)) return sibling
  const built = path.join(packageRoot, 'dist', 'src', 'training', file)
  if (!existsSync(built)) throw new FreshetError('INTERNAL', `${built} is missing: run \`npm run build\``)
  return built
}

/** Cuts a stream's chunks into lines for `onLog`; a line longer than 4 KiB is cut there. */
function lineSplitter(stream: TrainerLogLine['stream'], onLog: RunnerOptions['onLog']): { push: (chunk: string) => void; end: () => void } {
  let pending = ''
  const emit = (line: string) => onLog?.({ stream, line: line.endsWith('\r') ? line.slice(0, -1) : line })
  return {
    push(chunk) {
      if (onLog === undefined) return
      pending += chunk
      let newline: number
      while ((newline = pending.indexOf('\n')) >= 0) {
        emit(pending.slice(0, newline))
        pending = pending.slice(newline + 1)
      }
      while (pending.length > 4096) {
        emit(pending.slice(0, 4096))
        pending = pending.slice(4096)
      }
    },
    end() {
      if (pending !== '') emit(pending)
      pending = ''
    },
  }
}

const codeOf = (code: string): ErrorCode => (code in errorCatalog ? (code as ErrorCode) : 'TRAINING_FAILED')

/**
 * Trains a pipeline in a child process, so that a trainer's crash, runaway memory or hang never takes down the
 * CLI or the server: the error is reported instead. Progress comes back as events.
 * @throws FreshetError with the child's own code for expected failures, `TRAINING_FAILED` for a crash,
 * `ABORTED` when `signal` aborts (the child is killed).
 */
export async function trainInChild(platform: Platform, pipeline: string, options: RunnerOptions = {}): Promise<ChildTrainingResult> {
  const aborted = (): boolean => options.signal?.aborted === true
  if (aborted()) throw new FreshetError('ABORTED', `training of ${pipeline} was cancelled`)
  const tmpRoot = path.join(platform.config.stateDir, 'tmp')
  await mkdir(tmpRoot, { recursive: true })
  const outDir = await mkdtemp(path.join(tmpRoot, 'train-'))
  const job: TrainingJob = { root: platform.config.root, configFile: platform.config.file, stateDir: platform.config.stateDir, config: platform.config.config, pipeline, outDir, ...(options.batchIds === undefined ? {} : { batchIds: [...options.batchIds] }), ...(options.strategy === undefined ? {} : { strategy: options.strategy }), production: options.production ?? null }
  try {
    const child = fork(childEntry(), [], {
      execArgv: [`--max-old-space-size=${options.maxHeapMb ?? 4096}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    let stderr = ''
    const stdoutLines = lineSplitter('stdout', options.onLog)
    const stderrLines = lineSplitter('stderr', options.onLog)
    // Decoded as UTF-8 by the streams, so a character split across chunks stays whole.
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8192)
      stderrLines.push(chunk)
    })
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdoutLines.push(chunk))
    const onAbort = () => child.kill('SIGKILL')
    options.signal?.addEventListener('abort', onAbort, { once: true })
    let done: Extract<ChildMessage, { type: 'done' }> | undefined
    let failure: Extract<ChildMessage, { type: 'error' }> | undefined
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'event') options.onEvent?.(message.event)
      else if (message.type === 'done') done = message
      else failure = message
    })
    child.send(job)
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject)
      // 'close' comes after 'exit' once stdout and stderr are drained, so no log line or crash message is missed.
      child.once('close', (code, signal) => resolve({ code, signal }))
    })
    options.signal?.removeEventListener('abort', onAbort)
    stdoutLines.end()
    stderrLines.end()
    if (aborted()) throw new FreshetError('ABORTED', `training of ${pipeline} was cancelled`)
    if (failure !== undefined) {
      throw new FreshetError(codeOf(failure.error.code), failure.error.message, failure.error.hint === undefined ? {} : { hint: failure.error.hint })
    }
    if (done === undefined || exit.code !== 0) {
      const oom = /heap out of memory|Allocation failed/i.test(stderr)
      const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
      const tail = stderr.trim().split('\n').slice(-6).join('\n    ')
      throw new FreshetError('TRAINING_FAILED', `the trainer process for ${pipeline} ${oom ? `ran out of memory (heap limit ${options.maxHeapMb ?? 4096} MiB) and ` : ''}${how} before finishing${tail === '' ? '' : `:\n    ${tail}`}`, {
        hint: oom ? 'train on a shorter window, lower hashBits, or raise the heap limit' : 'the trainer crashed; the server and CLI are unaffected. Fix the trainer and run again',
      })
    }
    return {
      manifest: JSON.parse(await readFile(done.manifestFile, 'utf8')) as ModelManifest,
      weights: new Uint8Array(await readFile(done.weightsFile)),
      metrics: done.metrics,
      evaluation: done.evaluation,
      lineage: done.lineage,
      production: done.production,
      samples: done.samples,
    }
  } finally {
    await rm(outDir, { recursive: true, force: true })
  }
}
