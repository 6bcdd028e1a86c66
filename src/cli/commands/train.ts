import type { Command } from 'commander'
import type { BinaryMetrics, RegressionMetrics } from '../../evaluation/metrics.js'
import { trainAndRegister } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { trainingReporter } from '../progress.js'
import { table } from '../table.js'

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

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a pipeline now (in a child process), evaluate it on the holdout, register it, and deploy it if it passes its gate')
    .argument('<pipeline>', 'pipeline name')
    .option('--wait', 'wait for the run to finish and print its statistics (runs always wait until the run queue exists)')
    .option('--json', 'print the outcome as JSON')
    .action(async (pipeline: string, options: { json?: boolean }, command: Command) => {
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const reporter = trainingReporter()
        const started = performance.now()
        let outcome
        try {
          outcome = await trainAndRegister(platform, pipeline, { onEvent: options.json === true ? () => undefined : reporter.onEvent, actor: 'cli' })
        } finally {
          reporter.finish()
        }
        if (options.json === true) return printJson(outcome)
        const { model, gate } = outcome
        const lineage = model.lineage as { rows?: { train: number; holdout: number }; batches?: unknown[] }
        const out = [
          `${pipeline} v${model.version} trained in ${((performance.now() - started) / 1000).toFixed(1)}s on ${lineage.rows?.train ?? '?'} rows from ${lineage.batches?.length ?? '?'} batches; evaluated on the ${lineage.rows?.holdout ?? '?'} most recent`,
          '',
          evaluationTable(outcome.evaluation),
          '',
        ]
        if (!gate.passed) out.push(`gate: FAILED — ${gate.reasons.join('; ')}. v${model.version} is registered as rejected and not deployed.`)
        else if (outcome.deployed) out.push(`gate: passed${gate.metric === null ? ' (no gate configured)' : ` (${gate.metric} ${gate.value?.toFixed(4)} vs min ${gate.min ?? '-'})`}. production: ${outcome.previousProduction === undefined ? 'none' : `v${outcome.previousProduction}`} -> v${model.version}`)
        else out.push(`gate: passed. deploy.auto is false: production stays at ${outcome.previousProduction === undefined ? 'none' : `v${outcome.previousProduction}`}`)
        process.stdout.write(`${out.join('\n')}\n`)
        if (!gate.passed) process.exitCode = 1
      })
    })
}
