import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { isFinished, type Run, type RunState, type RunStep } from '../../orchestration/run-types.js'
import { runStatistics } from '../../orchestration/statistics.js'
import { pipelineSpecOf } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { formatSeconds } from '../progress.js'
import { clip, formatNumber, table } from '../table.js'

const runStates = ['queued', 'running', 'succeeded', 'failed', 'cancelled']

/** Who the CLI records as the actor of what it starts or cancels. */
export function cliActor(): string {
  return process.env.FRESHET_ACTOR ?? process.env.USER ?? 'cli'
}

const duration = (ms: number | null): string =>
  ms === null ? '-' : ms < 1000 ? `${ms}ms` : formatSeconds(ms / 1000)

/** One line on what a run produced or why it did not. */
export function outcomeText(run: Run): string {
  if (run.state === 'queued' || run.state === 'running')
    return run.cancelReason === null ? '' : 'cancellation requested'
  if (run.state === 'cancelled') return `cancelled: ${run.cancelReason ?? ''}`
  const o = run.outcome
  if (run.state === 'failed')
    return `${run.error?.code ?? 'failed'}${run.error?.step === undefined ? '' : ` at ${run.error.step}`}${o === null || o.modelVersion === null ? '' : ` (v${o.modelVersion} registered)`}`
  if (o === null || o.modelVersion === null) return ''
  if (o.modelStatus === 'rejected') return `v${o.modelVersion} rejected by its gate`
  return o.deployed
    ? `v${o.modelVersion} deployed (production ${o.previousProduction === null ? 'none' : `v${o.previousProduction}`} -> v${o.modelVersion})`
    : `v${o.modelVersion} registered, not deployed`
}

function stepSummary(step: RunStep): string {
  const d = step.details
  if (step.error !== null) return step.error.message.split('\n')[0] ?? ''
  switch (step.name) {
    case 'resolve-data':
      return typeof d.batches === 'number'
        ? `${formatNumber(d.batches)} batches of ${String(d.dataset)}, ${formatNumber(Number(d.rows))} rows${typeof d.minEventTime === 'string' ? `, ${d.minEventTime.slice(0, 10)} to ${String(d.maxEventTime).slice(0, 10)}` : ''}`
        : ''
    case 'train': {
      const rows = d.rows as { train?: number; holdout?: number } | undefined
      const trainer = typeof d.trainer === 'string' ? d.trainer : ''
      return rows?.train === undefined
        ? trainer
        : `${trainer} on ${formatNumber(rows.train)} rows, ${formatNumber(rows.holdout ?? 0)} held out`
    }
    case 'evaluate': {
      const gate = d.gate as
        { passed: boolean; metric: string | null; value: number | null; reasons: string[] } | undefined
      if (gate === undefined) return ''
      const comparison = (
        d.comparison as { name: string; previous: number | null; delta: number | null }[] | undefined
      )?.find((c) => c.name === gate.metric)
      const value =
        gate.metric === null
          ? 'no gate configured'
          : `${gate.metric} ${gate.value?.toFixed(4) ?? '?'}${comparison === undefined || comparison.delta === null ? '' : ` (${comparison.delta >= 0 ? '+' : ''}${comparison.delta.toFixed(4)} vs production)`}`
      return `${value}; gate ${gate.passed ? 'passed' : `FAILED: ${gate.reasons.join('; ')}`}`
    }
    case 'register':
      return typeof d.version === 'number' ? `v${d.version} ${String(d.status)}` : ''
    case 'deploy':
      if (typeof d.reason === 'string') return d.reason
      return typeof d.to === 'number'
        ? `production ${typeof d.from === 'number' ? `v${d.from}` : 'none'} -> v${d.to}`
        : ''
  }
}

function describeRun(run: Run, logs: readonly { stream: string; line: string }[], attempts: string): string {
  const trigger = `${run.trigger.type} by ${run.trigger.actor}${run.trigger.reason === undefined ? '' : `: ${run.trigger.reason}`}`
  const out = [
    `run ${run.id} of ${run.pipeline}: ${run.state} (${trigger})`,
    `created ${run.createdAt.slice(0, 19)}${run.startedAt === null ? '' : `, started ${run.startedAt.slice(0, 19)}`}${run.finishedAt === null ? '' : `, finished ${run.finishedAt.slice(0, 19)}`}; ${attempts}`,
    '',
    table(
      ['step', 'status', 'started', 'duration', 'details'],
      run.steps.map((s) => [
        s.name,
        s.status,
        s.startedAt?.slice(11, 19) ?? '-',
        duration(s.durationMs),
        clip(stepSummary(s), 90),
      ]),
    ),
  ]
  const outcome = outcomeText(run)
  if (outcome !== '') out.push('', `outcome: ${outcome}`)
  if (run.error !== null)
    out.push(
      `error: ${run.error.message}${run.error.hint === undefined ? '' : `\n  hint: ${run.error.hint}`}`,
    )
  if (isFinished(run.state)) {
    const stats = runStatistics(run)
    if (stats.metrics.length > 0) {
      out.push(
        '',
        table(
          ['metric', 'value', 'previous', 'delta'],
          stats.metrics
            .filter((m) => m.name !== 'bestF1Threshold')
            .map((m) => [m.name, m.value, m.previous, m.delta]),
        ),
      )
    }
  }
  if (logs.length > 0)
    out.push(
      '',
      `last ${logs.length} trainer log lines:`,
      ...logs.map((l) => `  ${l.stream === 'stderr' ? '!' : ' '} ${l.line}`),
    )
  return out.join('\n')
}

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description(
      'list runs (of one pipeline), newest first; `runs show <id>` and `runs cancel <id>` act on one',
    )
    .argument('[pipeline]', 'only runs of this pipeline')
    .option('--state <state>', `only runs in this state (${runStates.join(', ')})`)
    .option('--limit <n>', 'at most this many (default 20)')
    .option('--json', 'print as JSON')
    .action(
      async (
        pipeline: string | undefined,
        options: { state?: string; limit?: string; json?: boolean },
        command: Command,
      ) => {
        if (options.state !== undefined && !runStates.includes(options.state))
          throw new FreshetError('USAGE', `--state: expected one of ${runStates.join(', ')}`)
        const limit = Number(options.limit ?? 20)
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          throw new FreshetError('USAGE', '--limit: expected an integer from 1 to 1000')
        await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
          if (pipeline !== undefined) pipelineSpecOf(platform, pipeline)
          const list = await platform.runs.list({
            limit,
            ...(pipeline === undefined ? {} : { pipeline }),
            ...(options.state === undefined ? {} : { state: options.state as RunState }),
          })
          if (options.json === true) return printJson(list)
          if (list.length === 0)
            return void process.stdout.write(
              `no runs${pipeline === undefined ? '' : ` of ${pipeline}`} yet: start one with \`freshet train ${pipeline ?? '<pipeline>'}\`\n`,
            )
          const total = (r: Run) =>
            r.startedAt === null || r.finishedAt === null
              ? null
              : Date.parse(r.finishedAt) - Date.parse(r.startedAt)
          process.stdout.write(
            `${table(
              ['run', 'pipeline', 'state', 'trigger', 'created', 'duration', 'outcome'],
              list.map((r) => [
                r.id,
                r.pipeline,
                r.state,
                `${r.trigger.type}/${r.trigger.actor}`,
                r.createdAt.slice(0, 19),
                duration(total(r)),
                clip(outcomeText(r), 70),
              ]),
            )}\n`,
          )
        })
      },
    )

  runs
    .command('show')
    .description('a run: its steps with timings and details, its outcome and metrics, and its last log lines')
    .argument('<run>', 'run id (r_…)')
    .option('--logs <n>', 'trainer log lines to show (default 20)')
    .option('--json', 'print as JSON (the run, its statistics and its log)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { json?: boolean; logs?: string }>()
      const lines = Number(options.logs ?? 20)
      if (!Number.isInteger(lines) || lines < 0 || lines > 10_000)
        throw new FreshetError('USAGE', '--logs: expected an integer from 0 to 10000')
      await withPlatform(options, async (platform) => {
        const run = await platform.runs.get(id)
        const logs = lines === 0 ? [] : await platform.runs.logs(id, lines)
        if (options.json === true)
          return printJson({ ...run, statistics: isFinished(run.state) ? runStatistics(run) : null, logs })
        const job = await platform.queue.get(run.jobId)
        const attempts = `attempt ${job.attempts} of ${job.maxAttempts}${job.state === 'running' && job.leaseOwner !== null ? ` on worker ${job.leaseOwner}` : ''}`
        process.stdout.write(`${describeRun(run, logs, attempts)}\n`)
      })
    })

  runs
    .command('cancel')
    .description('cancel a queued run, or stop a running one (its trainer is killed)')
    .argument('<run>', 'run id (r_…)')
    .option('--reason <text>', 'why (recorded)', 'cancelled from the CLI')
    .action(async (id: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { reason: string; json?: boolean }>()
      await withPlatform(options, async (platform) => {
        const run = await platform.runs.cancel(id, { reason: options.reason, actor: cliActor() })
        if (options.json === true) return printJson(run)
        const text =
          run.state === 'cancelled'
            ? `run ${id} is cancelled`
            : isFinished(run.state)
              ? `run ${id} had already finished (${run.state}); nothing was changed`
              : `cancellation of run ${id} requested: its worker stops it at its next heartbeat (at once in this process)`
        process.stdout.write(`${text}\n`)
      })
    })
}
