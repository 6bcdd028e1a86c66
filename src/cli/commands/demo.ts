import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { loadConfig, findConfigFile } from '../../config/load.js'
import { openPlatform } from '../../app/platform.js'
import { isFreshetError } from '../../core/errors.js'
import { ingestFile } from '../../data/ingest.js'
import { prepareExample } from '../../examples/templates.js'
import { formatNumber } from '../table.js'
import { initWorkspace } from './init.js'
import { parsePort, serveUntilStopped } from './up.js'

const say = (line: string) => process.stdout.write(`${line}\n`)

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the spam demo: prepare the SpamAssassin example, ingest it month by month, and serve it')
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
        say(`dataset emails: ${formatNumber(rows)} emails in ${batches.length} monthly batches (${added} new this time; the rest were already ingested)`)
        say(`try: npx freshet -w ${path.relative(process.cwd(), dir) || '.'} data emails`)
        if (!options.serve) return await platform.close()
      } catch (error) {
        await platform.close()
        throw error
      }
      try {
        await serveUntilStopped(platform, options.port === undefined ? {} : { port: options.port })
      } catch (error) {
        await platform.close()
        if (isFreshetError(error)) throw error
        throw error
      }
    })
}
