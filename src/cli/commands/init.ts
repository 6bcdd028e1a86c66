import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { findConfigFile } from '../../config/load.js'
import { FreshetError } from '../../core/errors.js'
import { exampleConfig, exampleDataset, exampleNames, exampleReadme, isExampleName, prepareExample, type ExampleName } from '../../examples/templates.js'
import type { PrepareReport } from '../../examples/package-data.js'
import { formatNumber } from '../table.js'

const emptyConfig = `import { defineConfig } from 'freshet'

// Declare datasets here; see the README for every option.
export default defineConfig({
  datasets: {
    // events: { eventTime: 'ts', label: 'clicked', id: 'event_id' },
  },
})
`

export interface InitResult {
  dir: string
  example?: ExampleName
  report?: PrepareReport
}

/** Creates a workspace; with an example, also writes its data under `data/<dataset>/`. */
export async function initWorkspace(dirArg: string, options: { example?: string; data?: boolean; onProgress?: (m: string) => void }): Promise<InitResult> {
  const dir = path.resolve(dirArg)
  const example = options.example
  if (example !== undefined && !isExampleName(example)) {
    throw new FreshetError('USAGE', `--example: expected one of ${exampleNames.join(', ')}, got ${JSON.stringify(example)}`)
  }
  const existing = existsSync(dir) ? findConfigFile(dir) : undefined
  if (existing !== undefined) {
    throw new FreshetError('WORKSPACE_EXISTS', `${existing} already exists; not overwriting it`, { hint: 'choose another folder, or edit that file' })
  }
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, 'freshet.config.ts'), example === undefined ? emptyConfig : exampleConfig(example))
  if (!existsSync(path.join(dir, '.gitignore'))) await writeFile(path.join(dir, '.gitignore'), '.freshet/\n')
  if (example === undefined) return { dir }
  await writeFile(path.join(dir, 'README.md'), exampleReadme(example))
  await mkdir(path.join(dir, 'landing', exampleDataset(example)), { recursive: true })
  if (options.data === false) return { dir, example }
  const report = await prepareExample(example, dir, options.onProgress === undefined ? {} : { onProgress: options.onProgress })
  return { dir, example, report }
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a workspace (freshet.config.ts); --example also prepares real example data')
    .argument('[dir]', 'folder for the workspace', '.')
    .option('--example <name>', `start from an example: ${exampleNames.join(', ')}`)
    .option('--no-data', 'with --example, write the config only and skip preparing the data')
    .action(async (dir: string, options: { example?: string; data: boolean }) => {
      const result = await initWorkspace(dir, { ...options, onProgress: (m) => process.stdout.write(`  ${m}\n`) })
      const rel = path.relative(process.cwd(), result.dir) || '.'
      process.stdout.write(`created ${path.join(rel, 'freshet.config.ts')}\n`)
      if (result.report !== undefined && result.example !== undefined) {
        const r = result.report
        const dataset = exampleDataset(result.example)
        process.stdout.write(`prepared ${formatNumber(r.rows)} rows in ${r.files.length} files under ${path.join(rel, 'data', dataset)}/\n`)
        if (r.rejected.count > 0) {
          process.stdout.write(`set aside ${r.rejected.count} source records (${Object.entries(r.rejected.reasons).map(([k, v]) => `${v} ${k}`).join(', ')}), listed in ${r.rejected.path ?? 'rejected.jsonl'}\n`)
        }
        const ext = result.example === 'spam' ? 'jsonl' : 'parquet'
        process.stdout.write(`next:\n  cd ${rel}\n  freshet ingest ${dataset} data/${dataset}/*.${ext}\n  freshet data ${dataset}\n`)
      }
    })
}
