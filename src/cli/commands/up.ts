import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { loadConfig } from '../../config/load.js'
import { openPlatform, type Platform } from '../../app/platform.js'
import { startServer } from '../../server/listen.js'
import type { GlobalOptions } from '../context.js'
import { startReportingWorker, untilStopSignal } from './worker.js'

export function parsePort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FreshetError('USAGE', `--port: expected an integer from 0 to 65535, got ${JSON.stringify(text)}`)
  return port
}

/**
 * Serves, with a worker executing queued runs in the same process (so run events stream live), until
 * SIGINT/SIGTERM; then stops claiming, gives the current run up to 30 s, and closes the server and the platform.
 */
export async function serveUntilStopped(platform: Platform, options: { host?: string; port?: number }, onListening?: (url: string) => void): Promise<void> {
  const { app, url } = await startServer(platform, options)
  const worker = startReportingWorker(platform)
  process.stdout.write(`Freshet is serving ${url} (status page), ${url}/api/v1/datasets (API), ${url}/v1/models/{pipeline}:predict, ${url}/healthz, and running queued runs (worker ${worker.id}). Ctrl+C stops it.\n`)
  onListening?.(url)
  await untilStopSignal()
  process.stdout.write('stopping: no new runs are claimed; the current run has 30s to finish\n')
  await worker.stop({ timeoutMs: 30_000 })
  await app.close()
  await platform.close()
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the Freshet server and a worker for this workspace (default http://127.0.0.1:7070)')
    .option('--port <port>', 'port to listen on', parsePort)
    .option('--host <host>', 'address to listen on (a non-loopback address needs FRESHET_TOKEN)')
    .action(async (options: { port?: number; host?: string }, command: Command) => {
      const config = await loadConfig(command.optsWithGlobals<GlobalOptions>().workspace ?? process.cwd())
      const platform = await openPlatform(config)
      try {
        await serveUntilStopped(platform, options)
      } catch (error) {
        await platform.close()
        throw error
      }
    })
}
