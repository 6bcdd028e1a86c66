import type { Command } from 'commander'
import { isFreshetError, type FreshetError } from '../../core/errors.js'
import { assertName } from '../../core/names.js'
import { ingestFile, type IngestResult } from '../../data/ingest.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { formatNumber } from '../table.js'

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('ingest CSV, JSON Lines or Parquet files (plain or .gz) into a dataset, one validated, immutable batch per file (exit code 3 when one is quarantined)')
    .argument('<dataset>', 'dataset name, as declared in freshet.config.ts')
    .argument('<file...>', 'files to ingest')
    .option('--json', 'print the results as JSON')
    .action(async (dataset: string, files: string[], options: { json?: boolean }, command: Command) => {
      assertName('dataset', dataset)
      const failures: FreshetError[] = []
      const results: IngestResult[] = []
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        for (const file of files) {
          try {
            const result = await ingestFile(platform, dataset, file)
            results.push(result)
            if (options.json !== true) printResult(result)
          } catch (error) {
            if (!isFreshetError(error) || error.code === 'DATASET_NOT_FOUND') throw error
            failures.push(error)
            if (options.json !== true) process.stderr.write(`error: ${error.describe()}\n`)
          }
        }
      })
      if (options.json === true) printJson({ results, errors: failures.map((f) => f.toJSON()) })
      const quarantined = results.some((r) => r.status === 'ingested' && (r.batch.state === 'quarantined' || r.split !== undefined))
      if (quarantined && failures.length === 0) process.exitCode = 3
      if (failures.length > 0) {
        const first = failures[0] as FreshetError
        if (files.length === 1) {
          process.exitCode = first.exitCode
          return
        }
        process.stderr.write(`${failures.length} of ${files.length} files were not ingested${failures.length < files.length ? '; the others were' : ''}\n`)
        process.exitCode = first.exitCode
      }
    })
}

function printAnomalies(result: IngestResult, blockingOnly: boolean): void {
  for (const a of result.anomalies ?? []) {
    if (blockingOnly && a.severity !== 'blocking') continue
    process.stdout.write(`           ${a.severity === 'blocking' ? 'BLOCKING' : 'warning '} ${a.code}${a.column === null ? '' : ` ${a.column}`}: ${a.message}${a.examples.length > 0 ? ` [rows ${a.examples.slice(0, 5).join(', ')}]` : ''}\n`)
  }
}

function printResult(result: IngestResult): void {
  const b = result.batch
  if (result.status === 'ingested' && b.state === 'quarantined') {
    process.stdout.write(`QUARANTINED ${result.file} -> batch ${b.id}: ${formatNumber(b.rows)} rows kept aside, not used for training\n`)
    printAnomalies(result, false)
    process.stdout.write(`           what to do: look at \`freshet quarantine show ${b.id}\`, fix the source and ingest it again, or \`freshet quarantine release ${b.id} --reason "..."\` if the data is right\n`)
    return
  }
  if (result.status === 'duplicate') {
    process.stdout.write(`unchanged  ${result.file}: these bytes were already ingested as batch ${b.id} (nothing to do)\n`)
    return
  }
  const range = b.minEventTime === null ? '' : `, ${b.minEventTime.slice(0, 10)} to ${b.maxEventTime?.slice(0, 10) ?? '?'}`
  process.stdout.write(`ingested   ${result.file} -> batch ${b.id}: ${formatNumber(b.rows)} rows, ${b.format}${b.compression === 'gzip' ? '.gz' : ''}, schema v${b.schemaVersion}${range}\n`)
  if (result.split !== undefined) {
    const q = result.split.quarantined
    process.stdout.write(`           ${formatNumber(q.rows)} bad rows split off into quarantined batch ${q.id}:\n`)
    printAnomalies(result, true)
  }
  const warnings = (result.anomalies ?? []).filter((a) => a.severity === 'warning').length
  if (warnings > 0 && result.split === undefined) process.stdout.write(`           ${warnings} warning${warnings === 1 ? '' : 's'} (see \`freshet quarantine show ${b.id}\`)\n`)
  if (result.schemaChange !== undefined) {
    process.stdout.write(`           schema v${result.schemaChange.version}: ${result.schemaChange.changes.join('; ')}\n`)
  }
}
