import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { monitoringStatus, type MonitoringStatus } from '../../monitoring/status.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { clip, table } from '../table.js'

const hoursText = (h: number | null) =>
  h === null ? '-' : h >= 48 ? `${(h / 24).toFixed(1)}d` : `${h.toFixed(1)}h`

function render(status: MonitoringStatus): string {
  const out: string[] = [
    `pipeline ${status.pipeline}: production ${status.production === null ? 'none' : `v${status.production}`}, windows of ${status.window} (rules read a window once it has ${status.minRows} predictions)`,
  ]
  const s = status.staleness
  const budget = (over: boolean | null, b: string | null) =>
    b === null ? 'no budget' : `budget ${b}${over === true ? ', OVER BUDGET' : ''}`
  out.push(
    `staleness: newest training data ${s.newestData ?? '-'} (${hoursText(s.dataHours)} old, ${budget(s.dataOverBudget, s.dataBudget)}); last deploy ${s.lastDeploy ?? '-'} (${hoursText(s.deployHours)} ago, ${budget(s.deployOverBudget, s.deployBudget)})`,
  )
  const features = [...new Set(status.windows.flatMap((w) => Object.keys(w.features)))]
  out.push(
    '',
    'serving drift (numbers: Jensen-Shannon on training quantile bins; categories: L-infinity; * = window still going on):',
  )
  out.push(
    table(
      ['window', 'version', 'rows', 'drift', 'predictions', ...features, 'note'],
      status.windows.map((w) => [
        `${w.start.slice(0, 16)}${w.complete ? '' : '*'}`,
        w.version === null ? '-' : `v${w.version}`,
        w.rows,
        w.drift,
        w.predictionDrift,
        ...features.map((f) => w.features[f]?.distance ?? null),
        clip(w.note ?? '', 50),
      ]),
    ),
  )
  const online = status.windows.flatMap((w) => w.online.map((o) => ({ window: w.start.slice(0, 16), ...o })))
  out.push('', 'online quality (labelled predictions from feedback):')
  out.push(
    online.length === 0
      ? '  no predictions served in these windows'
      : table(
          ['window', 'version', 'served', 'labelled', ...Object.keys(online[0]?.metrics ?? {}), 'error rate'],
          online.map((o) => [
            o.window,
            `v${o.version}`,
            o.served,
            o.labelled,
            ...Object.values(o.metrics),
            o.errorRate,
          ]),
        ),
  )
  out.push('', 'rules:')
  out.push(
    status.rules.length === 0
      ? '  none (add monitors: [...] to the pipeline)'
      : table(
          ['rule', 'when', 'for', 'then', 'state', 'since'],
          status.rules.map((r) => [
            r.name === r.when ? '' : r.name,
            r.when,
            r.for,
            r.then.join(', '),
            r.state.toUpperCase(),
            r.since,
          ]),
        ),
  )
  if (status.events.length > 0) {
    out.push('', 'recent transitions:')
    out.push(
      table(
        ['at', 'rule', 'transition', 'values', 'actions'],
        status.events.map((e) => [
          e.at.slice(0, 19),
          e.rule,
          e.transition,
          clip(
            Object.entries(e.values)
              .filter(([k]) => k !== 'window')
              .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(3)) : String(v)}`)
              .join(' '),
            40,
          ),
          e.actions.map((a) => `${a.action}${a.ok ? '' : ' FAILED'}: ${clip(a.detail, 60)}`).join('; '),
        ]),
      ),
    )
  }
  return `${out.join('\n')}\n`
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description("a pipeline's serving drift and online quality per window, staleness, and its monitor rules")
    .argument('<pipeline>', 'pipeline name')
    .option('--windows <n>', 'how many windows to show (default 24)')
    .option('--json', 'print as JSON')
    .action(async (pipeline: string, options: { json?: boolean; windows?: string }, command: Command) => {
      const windows = options.windows === undefined ? undefined : Number(options.windows)
      if (windows !== undefined && !(Number.isInteger(windows) && windows >= 1 && windows <= 500))
        throw new FreshetError(
          'USAGE',
          `--windows: expected an integer from 1 to 500, got ${JSON.stringify(options.windows)}`,
        )
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        const status = await monitoringStatus(platform, pipeline, windows === undefined ? {} : { windows })
        if (options.json === true) printJson(status)
        else process.stdout.write(render(status))
      })
    })
}
