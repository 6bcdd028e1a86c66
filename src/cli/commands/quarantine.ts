import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { formatBytes } from '../../core/sizes.js'
import type { QuarantinedBatch } from '../../validation/quarantine.js'
import { decide, listQuarantine, showBatch } from '../../validation/quarantine.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { clip, formatNumber, table } from '../table.js'

function describe(q: QuarantinedBatch): string {
  const b = q.batch
  const out = [
    `batch ${b.id} of ${b.dataset}: ${b.state}, ${formatNumber(b.rows)} rows, ${formatBytes(b.sizeBytes)}, from ${b.sourceName} (sha256 ${b.sha256.slice(0, 12)}…)`,
    `original bytes: ${b.originalKey}`,
    `parsed data:    ${b.dataKey}${b.parentId === null ? '' : ` (bad rows split off batch ${b.parentId})`}`,
    '',
  ]
  out.push(
    q.anomalies.length === 0
      ? 'no anomalies'
      : table(
          ['severity', 'code', 'column', 'value', 'threshold', 'rows', 'message'],
          q.anomalies.map((a) => [a.severity, a.code, a.column ?? '-', a.value, a.threshold, a.examples.slice(0, 5).join(', '), clip(a.message, 90)]),
        ),
  )
  const scores = Object.entries(q.report?.scores ?? {})
  if (scores.length > 0) {
    out.push('', table(['column', 'missing', 'drift', 'skew', 'new values', 'out of range'], scores.map(([column, s]) => [column, s.missing, s.drift?.value ?? null, s.skew?.value ?? null, s.newValues ?? null, s.outOfRange ?? null])))
  }
  if (q.history.length > 0) out.push('', table(['when', 'action', 'by', 'reason'], q.history.map((h) => [h.at.slice(0, 19), h.action, h.actor, clip(h.reason, 60)])))
  return out.join('\n')
}

function actor(): string {
  return process.env.FRESHET_ACTOR ?? process.env.USER ?? 'cli'
}

export function registerQuarantine(program: Command): void {
  const quarantine = program.command('quarantine').description('inspect batches that failed validation, and release or discard them (recorded with a reason)')

  quarantine
    .command('list')
    .description('batches waiting for a decision')
    .option('--dataset <name>', 'only this dataset')
    .option('--json', 'print as JSON')
    .action(async (options: { dataset?: string; json?: boolean }, command: Command) => {
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const items = await listQuarantine(platform, options.dataset)
        if (options.json === true) return printJson(items)
        if (items.length === 0) return void process.stdout.write('no quarantined batches\n')
        process.stdout.write(
          `${table(
            ['batch', 'dataset', 'rows', 'source', 'quarantined', 'blocking anomalies'],
            items.map((q) => [q.batch.id, q.batch.dataset, q.batch.rows, clip(q.batch.sourceName, 28), q.batch.createdAt.slice(0, 19), clip(q.anomalies.filter((a) => a.severity === 'blocking').map((a) => `${a.code}${a.column === null ? '' : ` ${a.column}`}`).join(', '), 60)]),
          )}\n`,
        )
      })
    })

  quarantine
    .command('show')
    .description('a batch with its anomalies, example rows, scores and history')
    .argument('<batch>', 'batch id')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const q = await showBatch(platform, id)
        if (options.json === true) return printJson(q)
        process.stdout.write(`${describe(q)}\n`)
      })
    })

  for (const action of ['release', 'discard'] as const) {
    quarantine
      .command(action)
      .description(action === 'release' ? 'accept a quarantined batch for training (after review)' : 'keep a quarantined batch for audit but never train on it')
      .argument('<batch>', 'batch id')
      .requiredOption('--reason <text>', 'why (recorded)')
      .option('--json', 'print as JSON')
      .action(async (id: string, options: { reason: string; json?: boolean }, command: Command) => {
        if (options.reason.trim() === '') throw new FreshetError('USAGE', '--reason must say why')
        await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
          const q = await decide(platform, id, action, { actor: actor(), reason: options.reason })
          if (options.json === true) return printJson(q)
          process.stdout.write(`batch ${id} is now ${q.batch.state} by ${actor()}: ${options.reason}\n`)
        })
      })
  }
}
