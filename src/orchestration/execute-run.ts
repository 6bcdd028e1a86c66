import type { Platform } from '../app/platform.js'
import { FreshetError, isFreshetError } from '../core/errors.js'
import { checkGate } from '../evaluation/gate.js'
import { LeaseLostError, type Claim, type JobQueue } from '../storage/queue/job-queue.js'
import type { TrainingStrategy } from '../training/run-training.js'
import { trainInChild } from '../training/runner.js'
import { candidateModel, checkCandidateInfra, deployReason, notDeployedReason, pipelineSpecOf, shouldDeploy } from '../training/train.js'
import { epochsOf, ProgressMeter } from './progress-meter.js'
import { resolveData } from './resolve-data.js'
import { toRunError } from './run-rows.js'
import { RunSession } from './run-session.js'
import type { Runs } from './runs.js'
import { runIdPattern, type Run, type RunError, type RunOutcome, type StepName } from './run-types.js'
import { compareMetrics } from './statistics.js'
import { startCanary } from '../serving/canary.js'

/** How one attempt of a run ended, from the worker's point of view. */
export type AttemptResult =
  | 'succeeded'
  /** The run failed for good. */
  | 'failed'
  /** The attempt failed; the run is queued again for another. */
  | 'retrying'
  | 'cancelled'
  /** The worker stopped before the run finished and handed it back to the queue. */
  | 'released'
  /** Another worker took the run over (this one stalled past its lease); this attempt changed nothing. */
  | 'lease-lost'

export interface WorkResult {
  readonly runId: string
  readonly jobId: string
  readonly result: AttemptResult
  readonly error?: RunError
}

export interface Execution {
  readonly platform: Platform
  readonly runs: Runs
  readonly queue: JobQueue
  readonly claim: Claim
  readonly workerId: string
  readonly leaseMs: number
  readonly heartbeatMs: number
  /** Aborts when the worker must stop now: the attempt is handed back to the queue. */
  readonly release: AbortSignal
  readonly maxHeapMb?: number
  /** Fault injection for tests: called after training, right before the lease transaction that registers. */
  readonly beforeCommit?: (run: Run) => Promise<void> | void
}

interface Progress {
  /** The step the attempt is in, for the error of a failure. */
  current: StepName | undefined
}

/**
 * Executes one claimed attempt of a run: its five steps, with the trainer in a child process, heartbeats while
 * it works, and every write fenced by the claim's token. Registration, deployment, the run's outcome and the
 * job's completion commit in one lease transaction, so a worker that lost its lease registers nothing.
 * Never throws: failures are recorded on the run and returned.
 */
export async function executeRun(x: Execution): Promise<WorkResult> {
  const { claim, queue, runs } = x
  const jobId = claim.job.id
  const runId = (claim.job.payload as { runId?: unknown } | null)?.runId
  if (typeof runId !== 'string' || !runIdPattern.test(runId)) {
    const error = new FreshetError(
      'INTERNAL',
      `job ${jobId} is not a run: its payload is ${JSON.stringify(claim.job.payload)}`,
    )
    await queue.fail(jobId, claim.token, error, { retryable: false }).catch(() => undefined)
    return { runId: String(runId), jobId, result: 'failed', error: toRunError(error) }
  }

  const controller = new AbortController()
  let lost: LeaseLostError | undefined
  let cancelRequested = false
  let releasing = false
  const session = new RunSession(runs, queue, runId, jobId, claim.token, (error) => {
    lost ??= error
    controller.abort()
  })
  const offCancel = runs.bus.onCancelRequested(runId, () => {
    cancelRequested = true
    controller.abort()
  })
  const onRelease = () => {
    releasing = true
    controller.abort()
  }
  x.release.addEventListener('abort', onRelease, { once: true })
  if (x.release.aborted) onRelease()
  const heartbeat = setInterval(() => {
    queue.heartbeat(jobId, claim.token, x.leaseMs).catch((error: unknown) => {
      if (error instanceof LeaseLostError) {
        lost ??= error
        controller.abort()
      }
      // Anything else (a busy database) is retried by the next beat, well within the lease.
    })
  }, x.heartbeatMs)
  const progress: Progress = { current: undefined }

  const settle = async (error: unknown): Promise<WorkResult> => {
    let lease = lost ?? (error instanceof LeaseLostError ? error : undefined)
    if (lease === undefined && cancelRequested) {
      // Asking the queue confirms the cancellation and finishes the job as cancelled.
      lease = await queue.heartbeat(jobId, claim.token, x.leaseMs).then(
        () => undefined,
        (e: unknown) => (e instanceof LeaseLostError ? e : undefined),
      )
    }
    if (lease !== undefined) {
      if (lease.reason !== 'cancelled')
        return { runId, jobId, result: 'lease-lost', error: toRunError(lease) }
      const job = await queue.get(jobId)
      // A cancelled job is never claimed again, so no later attempt can own the run.
      await runs.settleCancelled(runId, null, job.cancelReason ?? 'cancelled')
      return { runId, jobId, result: 'cancelled' }
    }
    const cause = releasing
      ? new FreshetError(
          'ABORTED',
          `worker ${x.workerId} stopped before run ${runId} finished; it is queued for another attempt`,
        )
      : error
    const failure = toRunError(cause, progress.current)
    // A pipeline's own failure (bad data, a crashing trainer) would fail again; anything unexpected may not.
    const retryable = releasing || !isFreshetError(error)
    try {
      const state = await session.fenced(async (w) => {
        await w.closeSteps('failed', failure)
        const job = await queue.fail(jobId, claim.token, cause, { retryable, trx: w.trx })
        const again = job.state === 'queued'
        await w.finish(again ? 'queued' : 'failed', {
          error: failure,
          message: again
            ? `attempt ${claim.token} ${releasing ? 'released' : 'failed'} (${failure.message}); queued for attempt ${job.attempts + 1} of ${job.maxAttempts}`
            : `failed${progress.current === undefined ? '' : ` at ${progress.current}`}: ${failure.message}`,
        })
        return again
      })
      return {
        runId,
        jobId,
        result: state ? (releasing ? 'released' : 'retrying') : 'failed',
        error: failure,
      }
    } catch (e) {
      if (e instanceof LeaseLostError || lost !== undefined) return settle(e)
      return { runId, jobId, result: 'failed', error: toRunError(e) }
    }
  }

  try {
    await session.fenced((w) => w.start(x.workerId))
    const run = await runSteps(x, session, runId, controller.signal, progress)
    return {
      runId,
      jobId,
      result: run.state === 'succeeded' ? 'succeeded' : 'failed',
      ...(run.error === null ? {} : { error: run.error }),
    }
  } catch (error) {
    return await settle(error)
  } finally {
    clearInterval(heartbeat)
    offCancel()
    x.release.removeEventListener('abort', onRelease)
    await session.close()
  }
}

/** The strategy a run's trigger asked for (`freshet train --strategy`), overriding the pipeline's. */
export function requestedStrategy(run: Run): TrainingStrategy | undefined {
  const strategy = run.trigger.details?.strategy
  return strategy === 'full' || strategy === 'warm-start' || strategy === 'online' ? strategy : undefined
}

async function runSteps(
  x: Execution,
  session: RunSession,
  runId: string,
  signal: AbortSignal,
  progress: Progress,
): Promise<Run> {
  const { platform, claim } = x
  const run = await x.runs.get(runId)
  const pipeline = run.pipeline
  const enter = async (name: StepName, details?: Record<string, unknown>) => {
    progress.current = name
    await session.step(name, 'running', details)
  }

  await enter('resolve-data')
  const spec = pipelineSpecOf(platform, pipeline)
  const data = await resolveData(platform, pipeline, spec)
  const previousProduction = (await platform.registry.alias(pipeline, 'production')) ?? null
  const strategy = requestedStrategy(run) ?? spec.training?.strategy ?? 'full'
  await session.step('resolve-data', 'succeeded', { ...data, previousProduction, strategy })

  await enter('train', { trainer: spec.trainer.type })
  const meter = new ProgressMeter(epochsOf(spec.trainer))
  const result = await trainInChild(platform, pipeline, {
    signal,
    batchIds: data.batchIds,
    production: previousProduction,
    strategy,
    ...(x.maxHeapMb === undefined ? {} : { maxHeapMb: x.maxHeapMb }),
    onLog: (line) => session.log(line),
    onEvent: (event) => {
      if (event.kind === 'progress') return session.event({ type: 'progress', ...meter.update(event) })
      if (event.phase === 'train') meter.start()
      session.event({ type: 'phase', phase: event.phase, message: event.message })
      if (event.phase === 'evaluate') {
        progress.current = 'evaluate'
        session.background(session.step('train', 'succeeded'))
        session.background(session.step('evaluate', 'running'))
      }
    },
  })
  await session.flush()
  if (progress.current === 'train') {
    await session.step('train', 'succeeded')
    await enter('evaluate')
  }

  // Both models on the same holdout rows: the candidate and the production model pinned at resolve-data.
  const gate = checkGate(spec, result.metrics, result.production)
  const lineage = result.lineage
  const baseline = result.production
  await session.fenced(async (w) => {
    await w.annotate('train', {
      rows: lineage.rows ?? null,
      timingsMs: lineage.timingsMs ?? null,
      strategy: lineage.strategy ?? null,
      parentVersion: lineage.parentVersion ?? null,
    })
    await w.step('evaluate', 'succeeded', {
      metrics: result.metrics,
      evaluation: result.evaluation,
      previous:
        baseline === null
          ? null
          : {
              version: baseline.version,
              metrics: 'metrics' in baseline ? baseline.metrics : null,
              problem: 'problem' in baseline ? baseline.problem : null,
              on: 'the same holdout rows',
            },
      comparison: compareMetrics(result.metrics, baseline !== null && 'metrics' in baseline ? baseline.metrics : undefined),
      gate,
    })
  })

  await enter('register')
  // The blobs are content-addressed and nothing refers to them until the version row commits below.
  const artifact = await platform.registry.storeArtifact(candidateModel(pipeline, result, gate))
  // Before the version is recorded (its status is final once written) and before production can move.
  const infra = await checkCandidateInfra(platform, spec, pipeline, result, gate, artifact, signal)
  if (infra !== null) {
    session.event({
      type: 'phase',
      phase: 'infra-check',
      message: infra.passed
        ? `infra check passed: the artifact answered ${infra.rows} sample predictions in a fresh process in ${infra.durationMs} ms`
        : `infra check failed: ${infra.reason ?? ''}`,
    })
  }
  const candidate = candidateModel(pipeline, result, gate, infra)
  const model = { ...candidate, lineage: { ...candidate.lineage, runId } }
  await x.beforeCommit?.(await x.runs.get(runId))
  if (signal.aborted) throw new FreshetError('ABORTED', `run ${runId} was stopped before registering`)
  await session.fenced(async (w) => {
    const version = await platform.registry.record(model, artifact, w.trx)
    await w.step('register', 'succeeded', {
      version: version.version,
      status: version.status,
      manifestSha256: version.manifestSha256,
      weightsSha256: version.weightsSha256,
      sizeBytes: version.sizeBytes,
    })
    progress.current = 'deploy'
    let deployed = false
    let canary: { version: number; percent: number; bakeUntil: string } | undefined
    let failure: { error: FreshetError; run: RunError } | undefined
    if (!shouldDeploy(spec, gate, infra)) {
      await w.step('deploy', 'skipped', {
        reason: notDeployedReason(spec, version.version, gate, infra),
        infraCheck: infra,
      })
    } else if (spec.deploy?.canary !== undefined && previousProduction !== null) {
      // With a canary policy, a passing candidate first takes its share of traffic; the canary watcher of
      // `freshet up` promotes it after the bake or rolls it back as soon as it does worse than production.
      await w.step('deploy', 'running', { infraCheck: infra })
      try {
        const started = await startCanary(
          platform,
          { pipeline, version: version.version, actor: `${run.trigger.actor} (run ${runId})`, reason: deployReason(gate, infra) },
          w.trx,
        )
        canary = { version: started.version, percent: started.percent, bakeUntil: started.bakeUntil }
        await w.step('deploy', 'succeeded', { alias: 'candidate', canary, production: previousProduction, infraCheck: infra })
      } catch (error) {
        // Another canary is still baking: this version stays registered; an operator may deploy it later.
        if (!isFreshetError(error, 'CANARY_CONFLICT') && !isFreshetError(error, 'ALIAS_CONFLICT')) throw error
        await w.step('deploy', 'skipped', { reason: `no canary started: ${error.message}`, infraCheck: infra })
      }
    } else {
      await w.step('deploy', 'running', { infraCheck: infra })
      try {
        await platform.registry.moveAlias(
          {
            pipeline,
            alias: 'production',
            version: version.version,
            expected: previousProduction,
            actor: `${run.trigger.actor} (run ${runId})`,
            reason: deployReason(gate, infra),
          },
          w.trx,
        )
        deployed = true
        await w.step('deploy', 'succeeded', {
          alias: 'production',
          from: previousProduction,
          to: version.version,
          infraCheck: infra,
        })
      } catch (error) {
        // Someone moved production while this run trained: nothing was written, and the version stays registered.
        if (!isFreshetError(error, 'ALIAS_CONFLICT')) throw error
        failure = { error, run: toRunError(error, 'deploy') }
        await w.step('deploy', 'failed', undefined, failure.run)
      }
    }
    const outcome: RunOutcome = {
      modelVersion: version.version,
      modelStatus: version.status,
      gate,
      deployed,
      previousProduction,
      metrics: result.metrics,
      ...(canary === undefined ? {} : { canary }),
    }
    const where = deployed
      ? `, production ${previousProduction === null ? 'none' : `v${previousProduction}`} -> v${version.version}`
      : canary === undefined
        ? ''
        : `, canary on ${canary.percent}% of traffic until ${canary.bakeUntil}`
    if (failure === undefined) {
      await x.queue.complete(claim.job.id, claim.token, { modelVersion: version.version, deployed }, w.trx)
      await w.finish('succeeded', {
        outcome,
        lineage: version.lineage,
        message: `succeeded: v${version.version} ${version.status}${where}`,
      })
    } else {
      await x.queue.fail(claim.job.id, claim.token, failure.error, { retryable: false, trx: w.trx })
      await w.finish('failed', {
        outcome,
        lineage: version.lineage,
        error: failure.run,
        message: `failed at deploy: ${failure.run.message}`,
      })
    }
  })
  return x.runs.get(runId)
}
