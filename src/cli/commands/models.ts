import type { Command } from 'commander'
import { pipelineSpecOf } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { formatBytes } from '../../core/sizes.js'
import { parsePointInTime } from '../../registry/deploys.js'
import { clip, table } from '../table.js'

export function registerModels(program: Command): void {
  program
    .command('models')
    .description("list a pipeline's model versions, their metrics and aliases, and the alias history")
    .argument('<pipeline>', 'pipeline name')
    .option('--at <time>', 'which version each alias pointed at at this time: ISO (2025-03-01T10:00:00Z) or a duration ago (2h, 7d)')
    .option('--json', 'print as JSON')
    .action(async (pipeline: string, options: { json?: boolean; at?: string }, command: Command) => {
      const at = options.at === undefined ? undefined : parsePointInTime(options.at)
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        pipelineSpecOf(platform, pipeline)
        if (at !== undefined) {
          const moves = await platform.registry.aliasesAt(pipeline, at)
          if (options.json === true) return printJson({ pipeline, at: at.toISOString(), aliases: Object.fromEntries(moves.map((m) => [m.alias, m.toVersion])), moves })
          if (moves.length === 0) {
            process.stdout.write(`no alias of ${pipeline} pointed at a model version at ${at.toISOString()}\n`)
            return
          }
          process.stdout.write(`aliases of ${pipeline} at ${at.toISOString()}:\n${table(['alias', 'version', 'since', 'by', 'reason'], moves.map((m) => [m.alias, `v${m.toVersion ?? '-'}`, m.at.slice(0, 19), m.actor, clip(m.reason, 60)]))}\n`)
          return
        }
        const [versions, aliases, history] = await Promise.all([platform.registry.versions(pipeline), platform.registry.aliases(pipeline), platform.registry.history(pipeline)])
        if (options.json === true) return printJson({ pipeline, aliases, versions, history })
        if (versions.length === 0) {
          process.stdout.write(`pipeline ${pipeline} has no model versions yet: run \`freshet train ${pipeline}\`\n`)
          return
        }
        const aliasOf = (v: number) => Object.entries(aliases).filter(([, version]) => version === v).map(([a]) => a).join(', ')
        const metricNames = versions[0]?.task === 'regression' ? ['rmse', 'mae', 'r2'] : ['auc', 'logloss', 'f1']
        const out = [
          table(
            ['version', 'aliases', 'status', 'trainer', ...metricNames, 'size', 'created'],
            versions.map((v) => [v.version, aliasOf(v.version), v.status, v.trainer, ...metricNames.map((m) => (typeof v.metrics[m] === 'number' ? v.metrics[m] : null)), formatBytes(v.sizeBytes), v.createdAt.slice(0, 19)]),
          ),
        ]
        if (history.length > 0) {
          out.push('', table(['when', 'alias', 'from', 'to', 'by', 'reason'], history.map((h) => [h.at.slice(0, 19), h.alias, h.fromVersion === null ? '-' : `v${h.fromVersion}`, h.toVersion === null ? '-' : `v${h.toVersion}`, h.actor, h.reason])))
        }
        process.stdout.write(`${out.join('\n')}\n`)
      })
    })
}
