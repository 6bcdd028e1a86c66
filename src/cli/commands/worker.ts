import type { Command } from 'commander'
import type { Platform } from '../../app/platform.js'
import { FreshetError } from '../../core/errors.js'
import { Worker } from '../../orchestration/worker.js'
import type { Run } from '../../orchestration/run-types.js'
import { withPlatform, type GlobalOptions } from '../context.js'

const say = (line: string) => process.stdout.write(`${line}\n`)

/** One line on what a finished run produced: its version, the gate's verdict and where production went. */
export function describeRun(run: Run): string {
  if (run.state !== 'succeeded' || run.outcome === null || run.outcome.modelVersion === null) {
    return `${run.state}${run.error === null ? '' : `${run.error.step === undefined ? '' : ` at ${run.error.step}`}: ${run.error.message.split('\n')[0] ?? ''}`}`
  }
  const o = run.outcome
  const gate = o.gate
  const metric = gate?.metric == null || gate.value === null ? '' : ` (${gate.metric} ${gate.value.toFixed(4)})`
  if (o.deployed) return `succeeded: v${o.modelVersion}${metric} deployed, production ${o.previousProduction === null ? 'none' : `v${o.previousProduction}`} -> v${o.modelVersion}`
  if (o.modelStatus === 'rejected') return `succeeded: v${o.modelVersion}${metric} REJECTED by its gate (${gate?.reasons.join('; ') ?? ''}); production stays ${o.previousProduction === null ? 'empty' : `v${o.previousProduction}`}`
  if (o.canary !== undefined) return `succeeded: v${o.modelVersion}${metric} is a canary on ${o.canary.percent}% of traffic until ${o.canary.bakeUntil}; production stays v${o.previousProduction ?? '?'}`
  return `succeeded: v${o.modelVersion}${metric} registered, not deployed`
}

/** A worker that reports what it claims and how each attempt ended, one line each. */
export function startReportingWorker(platform: Platform, options: { leaseMs?: number } = {}): Worker {
  const worker = new Worker(platform, {
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    onClaim: (claim) =>
      say(
        `worker: claimed run ${String((claim.job.payload as { runId?: unknown }).runId)} (attempt ${claim.job.attempts} of ${claim.job.maxAttempts})`,
      ),
    onResult: (r) => {
      // A finished run's own message says what it produced (the version, its gate, the production move).
      const done = r.result === 'succeeded' || r.result === 'failed'
      const detail = done
        ? platform.runs.get(r.runId).then((run) => `${run.pipeline}/${r.runId} ${describeRun(run)}`)
        : Promise.resolve(
            `${r.runId} ${r.result}${r.error === undefined ? '' : `: ${r.error.message.split('\n')[0] ?? ''}`}`,
          )
      detail.then(
        (line) => say(`worker: run ${line}`),
        () => say(`worker: run ${r.runId} ${r.result}`),
      )
    },
    onError: (error) =>
      say(`worker: ${error instanceof Error ? error.message : String(error)}; trying again`),
  })
  worker.start()
  return worker
}

/** Resolves on the first SIGINT or SIGTERM (a second one ends the process the default way). */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

export function parseSeconds(text: string): number {
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600)
    throw new FreshetError('USAGE', `expected seconds from 0 to 3600, got ${JSON.stringify(text)}`)
  return seconds
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker alone: it claims queued runs and executes them until SIGTERM/SIGINT (`freshet up` runs one too)',
    )
    .option(
      '--stop-timeout <seconds>',
      'on SIGTERM/SIGINT, how long the current run may finish before it is handed back to the queue',
      parseSeconds,
      30,
    )
    .option(
      '--lease <seconds>',
      "how long a claimed run stays this worker's without a heartbeat (heartbeats every third of it); after that another worker may take the run over",
      parseSeconds,
      30,
    )
    .action(async (options: { stopTimeout: number; lease: number }, command: Command) => {
      if (options.lease < 1) throw new FreshetError('USAGE', '--lease: expected at least 1 second')
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const worker = startReportingWorker(platform, { leaseMs: Math.round(options.lease * 1000) })
        say(`worker ${worker.id} is waiting for runs. Ctrl+C (or SIGTERM) stops it.`)
        const signal = await untilStopSignal()
        say(`worker: ${signal}: not claiming any more; the current run has ${options.stopTimeout}s to finish`)
        await worker.stop({ timeoutMs: options.stopTimeout * 1000 })
        say('worker: stopped')
      })
    })
}
