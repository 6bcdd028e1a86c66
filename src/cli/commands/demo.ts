import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { loadConfig, findConfigFile } from '../../config/load.js'
import { openPlatform, type Platform } from '../../app/platform.js'
import { FreshetError } from '../../core/errors.js'
import { formatDuration, parseDuration } from '../../core/durations.js'
import { prepareExample } from '../../examples/templates.js'
import { processedDir } from '../../orchestration/triggers/landing-files.js'
import { initWorkspace } from './init.js'
import { parsePort, serveUntilStopped } from './up.js'

const say = (line: string) => process.stdout.write(`${line}\n`)

function parsePace(text: string): number {
  try {
    const ms = parseDuration(text)
    if (ms <= 3_600_000) return ms
  } catch {
    // reported below
  }
  throw new FreshetError('USAGE', `--pace: expected a duration up to 1h such as 3s or 500ms, got ${JSON.stringify(text)}`)
}

/** The month files of the spam example, oldest first. */
async function monthFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^emails-\d{4}-\d{2}\.jsonl$/.test(f)).sort()
}

/**
 * Replays the months into the landing folder, one every `paceMs`, as a mail system would drop them: written
 * under a dot-name the watcher ignores, then renamed, so the watcher only ever sees complete files. A month
 * already in `.processed/` (an earlier demo) is not replayed again.
 */
async function replay(platform: Platform, dataDir: string, landing: string, paceMs: number, signal: AbortSignal): Promise<void> {
  const files = await monthFiles(dataDir)
  const pending = files.filter((f) => !existsSync(path.join(landing, processedDir, f)))
  if (pending.length === 0) {
    const production = await platform.registry.alias('spam', 'production')
    say(`replay: all ${files.length} months were replayed before; spam ${production === undefined ? 'has no production model' : `v${production} serves`} (remove the demo folder to start over)`)
    return
  }
  say(`replay: ${pending.length} of ${files.length} months of e-mail, one every ${formatDuration(paceMs)}, into ${path.relative(process.cwd(), landing) || '.'}`)
  await mkdir(landing, { recursive: true })
  for (const [i, file] of pending.entries()) {
    if (signal.aborted) return
    const rows = (await readFile(path.join(dataDir, file), 'utf8')).split('\n').filter((l) => l.trim() !== '').length
    const part = path.join(landing, `.${file}.part`)
    await copyFile(path.join(dataDir, file), part)
    await rename(part, path.join(landing, file))
    say(`replay: ${file.slice(7, 14)} landed (${rows} e-mails)${i === pending.length - 1 ? '; that was the last month' : ''}`)
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, paceMs)
      signal.addEventListener('abort', done, { once: true })
    })
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the dynamic spam demo: replay the SpamAssassin corpus month by month into a landing folder; each file is validated, new data trains, gated versions are deployed and served')
    .option('--dir <dir>', 'workspace folder for the demo', 'demo')
    .option('--port <port>', 'port to serve on', parsePort)
    .option('--pace <duration>', 'time between two replayed months', parsePace, 4000)
    .action(async (options: { dir: string; port?: number; pace: number }) => {
      const dir = path.resolve(options.dir)
      if (findConfigFile(dir) === undefined) {
        say(`creating the spam workspace in ${dir}`)
        await initWorkspace(dir, { example: 'spam', onProgress: (m) => say(`  ${m}`) })
      } else if (!existsSync(path.join(dir, 'data', 'emails'))) {
        await prepareExample('spam', dir, { onProgress: (m) => say(`  ${m}`) })
      } else {
        say(`using the spam workspace in ${dir}`)
      }
      const config = await loadConfig(dir)
      const spam = config.config.pipelines?.spam
      const landing = config.config.datasets?.emails?.landing
      if (spam?.mode !== 'dynamic' || landing === undefined) {
        throw new FreshetError('CONFIG_INVALID', `${dir} has no dynamic spam pipeline with a landing folder (it was made by an older Freshet)`, { hint: `remove ${dir} and run the demo again` })
      }
      // The dashboard's Train now, deploy and rollback need the server's token: the demo makes one for this run
      // unless one is set, and prints it (it is not stored anywhere).
      const token = process.env.FRESHET_TOKEN ?? config.config.server?.token ?? randomBytes(18).toString('base64url')
      process.env.FRESHET_TOKEN = token
      const platform = await openPlatform(config)
      const stopReplay = new AbortController()
      try {
        await serveUntilStopped(
          platform,
          options.port === undefined ? {} : { port: options.port },
          (url) => {
            say('')
            say(`dashboard: ${url}   (Sign in with the token ${token} to start runs, deploy and roll back)`)
            say('score an e-mail once a version is deployed:')
            say(`  curl -s -X POST ${url}/v1/models/spam:predict -H 'content-type: application/json' \\`)
            say(`    -d '{"instances":[{"subject":"WIN a FREE prize now","body":"Click here to claim your cash","from_domain":"lucky.biz"}]}'`)
            say('')
            replay(platform, path.join(dir, 'data', 'emails'), path.resolve(dir, landing), options.pace, stopReplay.signal).catch((error: unknown) => {
              say(`replay: stopped: ${error instanceof Error ? error.message : String(error)}`)
            })
          },
          () => stopReplay.abort(),
        )
      } catch (error) {
        stopReplay.abort()
        await platform.close()
        throw error
      }
    })
}
