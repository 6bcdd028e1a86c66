import type { Command } from 'commander'
import { errorCatalog, FreshetError, type ErrorCode } from '../../core/errors.js'
import type { BinaryMetrics, RegressionMetrics } from '../../evaluation/metrics.js'
import { followRun } from '../../orchestration/follow.js'
import type { Run } from '../../orchestration/run-types.js'
import { runStatistics } from '../../orchestration/statistics.js'
import { Worker } from '../../orchestration/worker.js'
import type { StrategyRecord } from '../../training/run-training.js'
import { pipelineSpecOf } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { runReporter } from '../progress.js'
import { table } from '../table.js'
import { cliActor } from './runs.js'

export function evaluationTable(evaluation: BinaryMetrics | RegressionMetrics): string {
  if (!('auc' in evaluation)) {
    return table(['metric', 'value'], [['rows', evaluation.count], ['rmse', evaluation.rmse], ['mae', evaluation.mae], ['r2', evaluation.r2]])
  }
  const at = (name: string, m: BinaryMetrics['atHalf']) => [name, m.threshold, m.accuracy, m.precision, m.recall, m.f1]
  return [
    table(
      ['holdout', 'rows', 'positives', 'auc', 'log loss', 'mean predicted', 'observed rate'],
      [['', evaluation.count, evaluation.positives, evaluation.auc, evaluation.logLoss, evaluation.calibration.meanPredicted, evaluation.calibration.observedRate]],
    ),
    '',
    table(['threshold', 'value', 'accuracy', 'precision', 'recall', 'f1'], [at('0.5', evaluation.atHalf), at('best F1', evaluation.bestF1)]),
  ].join('\n')
}

function fail(run: Run): never {
  const error = run.error
  if (run.state === 'cancelled') throw new FreshetError('ABORTED', `run ${run.id} of ${run.pipeline} was cancelled: ${run.cancelReason ?? ''}`)
  const code = error !== null && error.code in errorCatalog ? (error.code as ErrorCode) : 'TRAINING_FAILED'
  throw new FreshetError(code, `run ${run.id} of ${run.pipeline} failed${error?.step === undefined ? '' : ` at ${error.step}`}: ${error?.message ?? 'no reason recorded'}`, {
    hint: error?.hint ?? `see \`freshet runs show ${run.id}\``,
  })
}

function summary(run: Run, seconds: number): string {
  const outcome = run.outcome
  const evaluate = run.steps.find((s) => s.name === 'evaluate')?.details ?? {}
  if (outcome === null || outcome.modelVersion === null || outcome.gate === null) return `run ${run.id}: ${run.state}`
  const version = outcome.modelVersion
  const gate = outcome.gate
  const lineage = (run.lineage ?? {}) as { rows?: { train: number; holdout: number }; batches?: unknown[]; strategy?: StrategyRecord; parentVersion?: number | null }
  const out = [`${run.pipeline} v${version} trained in ${seconds.toFixed(1)}s on ${lineage.rows?.train ?? '?'} rows from ${lineage.batches?.length ?? '?'} batches; evaluated on the ${lineage.rows?.holdout ?? '?'} most recent (run ${run.id})`, '']
  if (evaluate.evaluation !== undefined) out.push(evaluationTable(evaluate.evaluation as BinaryMetrics | RegressionMetrics), '')
  const production = outcome.previousProduction === null ? 'none' : `v${outcome.previousProduction}`
  const strategy = lineage.strategy
  if (strategy !== undefined) {
    if (strategy.used === 'warm-start') out.push(`strategy: warm start from v${lineage.parentVersion ?? '?'} on the batches it had not learned from`)
    else if (strategy.fallback !== null) out.push(`strategy: full (warm start not possible: ${strategy.fallback})`)
  }
  const baseline = gate.baseline
  if (gate.metric !== null && baseline !== undefined && baseline !== null) {
    out.push(
      baseline.value === null
        ? `production v${baseline.version} could not be evaluated on this holdout: ${baseline.problem ?? 'no value'}`
        : `${gate.metric}: candidate ${gate.value?.toFixed(4) ?? '?'}, production v${baseline.version} ${baseline.value.toFixed(4)} on the same holdout`,
    )
  }
  const infra = (run.lineage as { infraCheck?: { passed: boolean; reason: string | null } | null } | null)?.infraCheck ?? null
  if (!gate.passed) out.push(`gate: FAILED — ${gate.reasons.join('; ')}. v${version} is registered as rejected and not deployed.`)
  else if (infra?.passed === false) out.push(`gate: passed. infra check: FAILED — ${infra.reason ?? ''}. v${version} is registered as rejected and not deployed.`)
  else if (outcome.deployed) out.push(`gate: passed${gate.metric === null ? ' (no gate configured)' : ` (${gate.metric} ${gate.value?.toFixed(4)} vs min ${gate.min ?? '-'}${gate.maxRegression === undefined || gate.maxRegression === null ? '' : `, max regression ${gate.maxRegression}`})`}. production: ${production} -> v${version}`)
  else out.push(`gate: passed. deploy.auto is false: production stays at ${production}`)
  return out.join('\n')
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('start a run of a pipeline: train (in a child process), evaluate on the holdout, register, and deploy if it passes its gate')
    .argument('<pipeline>', 'pipeline name')
    .option('--wait', 'execute the run here (an in-process worker) and show its progress and evaluation; Ctrl+C cancels it')
    .option('--reason <text>', 'why (recorded with the run)')
    .option('--strategy <strategy>', "full (retrain over the window), warm-start (continue from production's weights on new batches) or online (one pass over the new rows in time order, scored before learned); overrides training.strategy")
    .option('--json', 'print the run as JSON')
    .action(async (pipeline: string, options: { wait?: boolean; reason?: string; json?: boolean; strategy?: string }, command: Command) => {
      const strategy = options.strategy
      if (strategy !== undefined && strategy !== 'full' && strategy !== 'warm-start' && strategy !== 'online') {
        throw new FreshetError('USAGE', `--strategy ${strategy}: expected full, warm-start or online`)
      }
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        pipelineSpecOf(platform, pipeline)
        const actor = cliActor()
        const queued = await platform.runs.enqueue({
          pipeline,
          trigger: { type: 'manual', actor, ...(options.reason === undefined ? {} : { reason: options.reason }), ...(strategy === undefined ? {} : { details: { strategy } }) },
        })
        if (options.wait !== true) {
          if (options.json === true) return printJson(queued)
          process.stdout.write(
            `run ${queued.id} of ${pipeline} is queued; a worker executes it (\`freshet up\` or \`freshet worker\`, or \`freshet train ${pipeline} --wait\` here).\n` +
              `follow it: freshet runs show ${queued.id}   cancel it: freshet runs cancel ${queued.id}\n`,
          )
          return
        }
        const reporter = runReporter()
        const started = performance.now()
        const worker = new Worker(platform)
        const interrupt = () => void platform.runs.cancel(queued.id, { reason: 'interrupted (Ctrl+C)', actor }).catch(() => undefined)
        process.once('SIGINT', interrupt)
        worker.start()
        let run: Run | undefined
        try {
          run = await followRun(platform.runs, queued.id, { onEvent: options.json === true ? () => undefined : reporter.onEvent })
        } finally {
          reporter.finish()
          process.off('SIGINT', interrupt)
          await worker.stop()
        }
        if (run === undefined) return
        if (options.json === true) {
          printJson({ ...run, statistics: runStatistics(run) })
          if (run.state !== 'succeeded' || run.outcome?.gate?.passed === false) process.exitCode = 1
          return
        }
        if (run.state !== 'succeeded') fail(run)
        process.stdout.write(`${summary(run, (performance.now() - started) / 1000)}\n`)
        if (run.outcome?.gate?.passed === false) process.exitCode = 1
      })
    })
}
