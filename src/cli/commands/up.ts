import path from 'node:path'
import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { loadConfig } from '../../config/load.js'
import { openPlatform, type Platform } from '../../app/platform.js'
import { startServer } from '../../server/listen.js'
import type { GlobalOptions } from '../context.js'
import { startReportingWorker, untilStopSignal } from './worker.js'
import type { RunningTriggers } from '../../orchestration/triggers/start.js'

const say = (line: string) => process.stdout.write(`${line}\n`)
const firstLine = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''

/** The landing watcher and the data and schedule triggers, reporting what they do one line each. */
export async function startReportingTriggers(platform: Platform): Promise<RunningTriggers> {
  // Loaded here, so that other commands (`freshet worker` above all) start without the triggers and croner.
  const { startTriggers } = await import('../../orchestration/triggers/start.js')
  const triggers = startTriggers(platform, {
    onLanding: (e) => {
      const name = e.file === undefined ? '' : path.basename(e.file)
      if (e.type === 'processed') {
        const what =
          e.result.status === 'duplicate'
            ? `already ingested as batch ${e.result.batch.id}`
            : e.quarantined
              ? `batch ${e.result.batch.id} QUARANTINED (see: freshet quarantine show ${e.result.batch.id})`
              : `batch ${e.result.batch.id} accepted (${e.result.batch.rows} rows)`
        const runs =
          e.runs.length === 0 ? '' : `; started run ${e.runs.map((r) => `${r.pipeline}/${r.id}`).join(', ')}`
        say(
          `landing: ${e.dataset}/${name}: ${what}${runs}; moved to ${path.relative(platform.config.root, e.movedTo)}`,
        )
      } else if (e.type === 'failed') {
        say(
          `landing: ${e.dataset}/${name} FAILED: ${firstLine(e.error)}; moved to ${path.relative(platform.config.root, e.movedTo)} with a .reason.txt`,
        )
      } else {
        say(`landing: ${e.dataset}${name === '' ? '' : `/${name}`}: ${firstLine(e.error)}; trying again`)
      }
    },
    onTrigger: (e) => {
      if (e.type === 'run')
        say(
          `trigger: ${e.trigger} queued run ${e.run.pipeline}/${e.run.id}${e.run.trigger.reason === undefined ? '' : `: ${e.run.trigger.reason}`}`,
        )
      else say(`trigger: ${e.pipeline}: ${firstLine(e.error)}; trying again`)
    },
  })
  for (const { dataset, dir } of triggers.watcher.folders)
    say(`landing: watching ${path.relative(platform.config.root, dir) || '.'} for dataset ${dataset}`)
  return triggers
}

export function parsePort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new FreshetError(
      'USAGE',
      `--port: expected an integer from 0 to 65535, got ${JSON.stringify(text)}`,
    )
  return port
}

/**
 * Serves, with a worker executing queued runs in the same process (so run events stream live) and the triggers
 * (landing folders, data, schedules), until SIGINT/SIGTERM; then stops the triggers, stops claiming, gives the
 * current run up to 30 s, and closes the server and the platform.
 */
export async function serveUntilStopped(
  platform: Platform,
  options: { host?: string; port?: number },
  onListening?: (url: string) => void,
  onStopping?: () => void,
): Promise<void> {
  const { app, url } = await startServer(platform, options)
  const worker = startReportingWorker(platform)
  const { startCanaryWatcher } = await import('../../serving/canary.js')
  const stopCanaries = startCanaryWatcher(platform, {
    onDecision: (c) => say(`canary: ${c.pipeline} v${c.version} ${c.action}: ${c.reason}`),
    onError: (error) => say(`canary: ${firstLine(error)}; trying again`),
  })
  const { startMonitor } = await import('../../monitoring/monitor.js')
  const stopMonitor = startMonitor(platform, {
    intervalMs: 30_000,
    onError: (error, pipeline) => say(`monitor: ${pipeline === undefined ? '' : `${pipeline}: `}${firstLine(error)}; trying again`),
  })
  let triggers
  try {
    triggers = await startReportingTriggers(platform)
  } catch (error) {
    await worker.stop({ timeoutMs: 0 })
    await stopCanaries()
    await stopMonitor()
    await app.close()
    throw error
  }
  const { startStreams } = await import('../../streaming/stream-source.js')
  const streams = startStreams(platform, {
    onNotice: (n) => {
      if (n.type === 'error') say(`stream: ${n.dataset}: ${firstLine(n.error)}; trying again`)
      else for (const v of n.step.sealed) say(`stream: ${n.step.dataset} window ${v.windowStart} v${v.version}: batch ${v.batchId} ${v.state}`)
    },
  })
  for (const dataset of streams.datasets) say(`stream: consuming for dataset ${dataset}`)
  const { startStreamScoring } = await import('../../streaming/scoring.js')
  const scoring = startStreamScoring(platform, {
    onError: (pipeline, error) => say(`scoring: ${pipeline}: ${firstLine(error)}; trying again`),
  })
  for (const pipeline of scoring.pipelines) say(`scoring: ${pipeline} scores its topic's events with its production model`)
  const { startLabelJoins } = await import('../../streaming/labels.js')
  const labels = startLabelJoins(platform, {
    onError: (dataset, error) => say(`labels: ${dataset}: ${firstLine(error)}; trying again`),
  })
  for (const dataset of labels.datasets) say(`labels: joining delayed labels for dataset ${dataset}`)
  process.stdout.write(
    `Freshet is serving ${url} (dashboard), ${url}/api/v1/datasets (API), ${url}/v1/models/{pipeline}:predict, ${url}/healthz, and running queued runs (worker ${worker.id}). Ctrl+C stops it.\n`,
  )
  onListening?.(url)
  await untilStopSignal()
  onStopping?.()
  process.stdout.write(
    'stopping: landing folders and triggers first, then no new runs are claimed; the current run has 30s to finish\n',
  )
  await streams.stop()
  await scoring.stop()
  await labels.stop()
  await triggers.stop()
  await stopCanaries()
  await stopMonitor()
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
