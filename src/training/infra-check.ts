import { fork } from 'node:child_process'
import type { Platform } from '../app/platform.js'
import type { PipelineSpec } from '../config/schema.js'
import { parseDuration } from '../core/durations.js'
import { FreshetError } from '../core/errors.js'
import type { StoredArtifact } from '../registry/registry.js'
import { childEntry } from './runner.js'

/** Default time bound of the infra check: loading the artifact in a fresh process and answering the samples. */
export const defaultInfraCheckTimeoutMs = 10_000

/** What the infra check sends its child process. */
export interface InfraCheckJob {
  root: string
  configFile: string | undefined
  stateDir: string
  config: unknown
  pipeline: string
  artifact: StoredArtifact
  instances: Record<string, unknown>[]
}

export type InfraCheckMessage = { type: 'done'; predictions: number[] } | { type: 'error'; message: string }

/** The verdict of an infra check, recorded on the run's deploy step and in the version's lineage. */
export interface InfraCheckResult {
  passed: boolean
  /** Why it failed; null when it passed. */
  reason: string | null
  /** Sample instances sent. */
  rows: number
  timeoutMs: number
  durationMs: number
  /** The first few answers, for the record. */
  predictions: (number | null)[]
}

/** The pipeline's infra check time bound in milliseconds, or null when `deploy.infraCheck` is `false`. */
export function infraCheckTimeout(spec: PipelineSpec): number | null {
  const setting = spec.deploy?.infraCheck
  if (setting === false) return null
  return setting?.timeout === undefined ? defaultInfraCheckTimeoutMs : parseDuration(setting.timeout)
}

/** Why `predictions` are not a valid answer to `rows` instances of a `task` model, or null when they are. */
export function answerProblem(predictions: unknown, rows: number, task: string): string | null {
  if (!Array.isArray(predictions)) return `it answered ${typeof predictions} instead of a list of predictions`
  if (predictions.length !== rows) return `it answered ${predictions.length} predictions for ${rows} instances`
  for (let i = 0; i < predictions.length; i++) {
    const p: unknown = predictions[i]
    if (typeof p !== 'number' || !Number.isFinite(p)) return `prediction ${i} of ${rows} is ${String(p)}, not a finite number`
    if (task === 'binary' && (p < 0 || p > 1)) return `prediction ${i} of ${rows} is ${p}, not a probability from 0 to 1`
  }
  return null
}

/**
 * The infra check (in the spirit of TFX's InfraValidator): before `production` moves to a candidate, its stored
 * artifact is loaded in a fresh child process exactly as a server loads a model (sha256-verified, through the
 * serving predictor) and must answer `instances` (holdout rows) with one finite prediction each, within
 * `timeoutMs`. A crash, a hang, an error or a bad answer fails the check; the parent is never at risk.
 * Never throws for a bad artifact: the result says why.
 * @throws FreshetError `ABORTED` when `signal` aborts (the child is killed).
 */
export async function infraCheck(
  platform: Platform,
  request: { pipeline: string; task: string; artifact: StoredArtifact; instances: Record<string, unknown>[]; timeoutMs: number; signal?: AbortSignal },
): Promise<InfraCheckResult> {
  const { timeoutMs, instances } = request
  const started = performance.now()
  const result = (reason: string | null, predictions: (number | null)[] = []): InfraCheckResult => ({
    passed: reason === null,
    reason,
    rows: instances.length,
    timeoutMs,
    durationMs: Math.round(performance.now() - started),
    predictions: predictions.slice(0, 5),
  })
  const aborted = (): boolean => request.signal?.aborted === true
  if (instances.length === 0) return result('there are no sample rows to ask it')
  if (aborted()) throw new FreshetError('ABORTED', `the infra check of ${request.pipeline} was cancelled`)
  const job: InfraCheckJob = {
    root: platform.config.root,
    configFile: platform.config.file,
    stateDir: platform.config.stateDir,
    config: platform.config.config,
    pipeline: request.pipeline,
    artifact: request.artifact,
    instances,
  }
  // 'advanced' serialization keeps NaN and Infinity, which JSON would turn into null.
  const child = fork(childEntry('infra-check-child.js'), [], { execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096)
  })
  let answer: InfraCheckMessage | undefined
  child.on('message', (message: InfraCheckMessage) => {
    answer ??= message
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeoutMs)
  const onAbort = () => child.kill('SIGKILL')
  request.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    child.send(job)
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code, signal) => resolve({ code, signal }))
    })
    if (aborted()) throw new FreshetError('ABORTED', `the infra check of ${request.pipeline} was cancelled`)
    if (timedOut) return result(`the artifact did not load and answer ${instances.length} sample predictions within ${timeoutMs / 1000}s in a fresh process`)
    if (answer?.type === 'error') return result(`loading the artifact or predicting in a fresh process failed: ${answer.message}`)
    if (answer === undefined || exit.code !== 0) {
      const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
      const tail = stderr.trim().split('\n').slice(-3).join(' | ')
      return result(`the process loading the artifact ${how} before answering${tail === '' ? '' : `: ${tail}`}`)
    }
    const predictions = answer.predictions.map((p) => (typeof p === 'number' && Number.isFinite(p) ? p : null))
    return result(answerProblem(answer.predictions, instances.length, request.task), predictions)
  } finally {
    clearTimeout(timer)
    request.signal?.removeEventListener('abort', onAbort)
  }
}
