import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { loadConfig, findConfigFile } from '../../config/load.js'
import { openPlatform } from '../../app/platform.js'
import { FreshetError } from '../../core/errors.js'
import { trainAndRegister } from '../../training/train.js'
import { trainingReporter } from '../progress.js'
import { evaluationTable } from './train.js'
import { ingestFile } from '../../data/ingest.js'
import { prepareExample } from '../../examples/templates.js'
import { formatNumber } from '../table.js'
import { initWorkspace } from './init.js'
import { parsePort, serveUntilStopped } from './up.js'

const say = (line: string) => process.stdout.write(`${line}\n`)

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the spam demo: prepare the SpamAssassin example, ingest it month by month, train, and serve predictions')
    .option('--dir <dir>', 'workspace folder for the demo', 'demo')
    .option('--port <port>', 'port to serve on', parsePort)
    .option('--no-serve', 'stop after ingesting instead of serving')
    .action(async (options: { dir: string; port?: number; serve: boolean }) => {
      const dir = path.resolve(options.dir)
      if (findConfigFile(dir) === undefined) {
        say(`creating the spam workspace in ${dir}`)
        await initWorkspace(dir, { example: 'spam', onProgress: (m) => say(`  ${m}`) })
      } else if (!existsSync(path.join(dir, 'data', 'emails'))) {
        await prepareExample('spam', dir, { onProgress: (m) => say(`  ${m}`) })
      } else {
        say(`using the spam workspace in ${dir}`)
      }
      const platform = await openPlatform(await loadConfig(dir))
      try {
        const dataDir = path.join(dir, 'data', 'emails')
        const files = (await readdir(dataDir)).filter((f) => f.startsWith('emails-') && f.endsWith('.jsonl')).sort()
        let added = 0
        for (const file of files) {
          const result = await ingestFile(platform, 'emails', path.join(dataDir, file), { displayName: path.join('data', 'emails', file) })
          if (result.status === 'ingested') added++
        }
        const batches = await platform.db.selectFrom('batches').select(['row_count']).where('dataset', '=', 'emails').execute()
        const rows = batches.reduce((sum, b) => sum + Number(b.row_count), 0)
        say(`dataset emails: ${formatNumber(rows)} emails in ${batches.length} monthly batches (${added === batches.length ? 'all new' : `${added} new, the rest ingested before`})`)
        if (platform.config.config.pipelines?.spam === undefined) {
          throw new FreshetError('CONFIG_INVALID', `${dir} has no spam pipeline (it was made by an older Freshet)`, { hint: `remove ${dir} and run the demo again` })
        }
        const production = await platform.registry.alias('spam', 'production')
        if (production === undefined || added > 0) {
          const reporter = trainingReporter(process.stdout)
          const outcome = await trainAndRegister(platform, 'spam', { onEvent: reporter.onEvent, actor: 'demo' }).finally(reporter.finish)
          say('')
          say(evaluationTable(outcome.evaluation))
          say(`spam v${outcome.model.version}: ${outcome.deployed ? 'passed its gate and serves as production' : `not deployed (${outcome.gate.reasons.join('; ')})`}`)
        } else {
          say(`spam v${production} is the production model (trained earlier)`)
        }
        const rel = path.relative(process.cwd(), dir) || '.'
        say(`explore: npx freshet -w ${rel} data emails | models spam | predict spam --json '{"subject":"Win cash","body":"Click here","from_domain":"x.biz"}'`)
        if (!options.serve) return await platform.close()
      } catch (error) {
        await platform.close()
        throw error
      }
      try {
        await serveUntilStopped(platform, options.port === undefined ? {} : { port: options.port }, (url) => {
          say('')
          say('score an e-mail:')
          say(`  curl -s -X POST ${url}/v1/models/spam:predict -H 'content-type: application/json' \\`)
          say(`    -d '{"instances":[{"subject":"WIN a FREE prize now","body":"Click here to claim your cash","from_domain":"lucky.biz"}]}'`)
        })
      } catch (error) {
        await platform.close()
        throw error
      }
    })
}
