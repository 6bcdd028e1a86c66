import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { formatBytes } from '../../core/sizes.js'
import { schemaVersions } from '../../data/batches.js'
import { datasetSpecOf } from '../../data/datasets.js'
import { datasetOverview } from '../../data/overview.js'
import type { ColumnStatistics } from '../../data/statistics.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { clip, formatNumber, table } from '../table.js'

export function registerData(program: Command): void {
  program
    .command('data')
    .description("show a dataset's batches and the statistics of its columns")
    .argument('<dataset>', 'dataset name')
    .option('--json', 'print everything as JSON (all statistics, per batch and overall)')
    .action(async (dataset: string, options: { json?: boolean }, command: Command) => {
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const overview = await datasetOverview(platform, dataset)
        if (options.json === true) return printJson(overview)
        const out: string[] = []
        out.push(`dataset ${dataset}: ${formatNumber(overview.rows)} rows in ${overview.batches.length} batches` + (overview.minEventTime === null ? '' : `, events ${overview.minEventTime} to ${overview.maxEventTime ?? '?'}`))
        if (overview.batches.length === 0) {
          out.push(`no batches yet: run \`freshet ingest ${dataset} <file...>\``)
        } else {
          const findings = (b: (typeof overview.batches)[number]) => {
            const anomalies = b.validation?.anomalies ?? []
            const blocking = anomalies.filter((a) => a.severity === 'blocking').length
            return anomalies.length === 0 ? '' : `${blocking > 0 ? `${blocking} blocking, ` : ''}${anomalies.length - blocking} warnings`
          }
          out.push('', table(['batch', 'state', 'rows', 'size', 'source', 'first event', 'last event', 'validation'], overview.batches.map((b) => [b.id, b.state, b.rows, formatBytes(b.sizeBytes), clip(b.sourceName, 32), b.minEventTime?.slice(0, 19) ?? null, b.maxEventTime?.slice(0, 19) ?? null, findings(b)])))
          out.push('', columnsTable(overview.statistics))
        }
        process.stdout.write(`${out.join('\n')}\n`)
      })
    })

  program
    .command('schema')
    .description("show a dataset's schema and its versions")
    .argument('<dataset>', 'dataset name')
    .option('--json', 'print as JSON')
    .action(async (dataset: string, options: { json?: boolean }, command: Command) => {
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const spec = datasetSpecOf(platform.config, dataset)
        const versions = await schemaVersions(platform.db, dataset)
        if (options.json === true) return printJson({ dataset, eventTime: spec.eventTime ?? null, label: spec.label ?? null, id: spec.id ?? null, versions })
        const current = versions.at(-1)
        if (current === undefined) {
          if (spec.schema === undefined) throw new FreshetError('DATASET_NOT_FOUND', `dataset ${dataset} has no schema yet: it is inferred from the first batch`, { hint: `run \`freshet ingest ${dataset} <file>\`` })
          process.stdout.write(`dataset ${dataset}: declared in config, no batch yet\n\n${table(['column', 'type'], Object.entries(spec.schema))}\n`)
          return
        }
        const role = (name: string) => [name === spec.eventTime ? 'event time' : '', name === spec.label ? 'label' : '', name === spec.id ? 'id' : ''].filter(Boolean).join(', ')
        const out = [`dataset ${dataset}: schema v${current.version} (${current.source}${current.batchId === null ? '' : ` from batch ${current.batchId}`}, ${current.createdAt.slice(0, 19)})`, '']
        out.push(table(['column', 'type', 'stored as', 'role'], current.columns.map((c) => [c.name, c.type, c.storage, role(c.name)])))
        if (versions.length > 1) {
          out.push('', table(['version', 'source', 'batch', 'columns', 'created'], versions.map((v) => [v.version, v.source, v.batchId, v.columns.map((c) => c.name).join(', '), v.createdAt.slice(0, 19)])))
        }
        process.stdout.write(`${out.join('\n')}\n`)
      })
    })
}

function columnsTable(stats: readonly ColumnStatistics[]): string {
  return table(
    ['column', 'type', 'count', 'missing', 'distinct', 'min', 'mean', 'max', 'p50', 'top / range'],
    stats.map((s) => [
      s.name,
      s.type,
      s.count,
      s.missing,
      s.distinct,
      s.numeric?.min ?? null,
      s.numeric?.mean ?? null,
      s.numeric?.max ?? null,
      s.numeric?.quantiles.p50 ?? null,
      s.string !== undefined
        ? clip(s.string.top.slice(0, 3).map((t) => `${clip(t.value, 16)} (${t.count})`).join(', '), 60)
        : s.boolean !== undefined
          ? `true ${s.boolean.trueCount}, false ${s.boolean.falseCount}`
          : s.timestamp !== undefined
            ? `${s.timestamp.min.slice(0, 19)} .. ${s.timestamp.max.slice(0, 19)}`
            : '',
    ]),
  )
}
