import type { Command } from 'commander'
import { checkReason, rollbackProduction } from '../../registry/deploys.js'
import { activeCanary, stopCanary } from '../../serving/canary.js'
import { pipelineSpecOf } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { outcomeLine, parseVersion } from './deploy.js'
import { cliActor } from './runs.js'

export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description(
      'move production back, by compare-and-swap, with a recorded reason: to --to, or to the version it served before its current one that passed its gate',
    )
    .argument('<pipeline>', 'pipeline name')
    .option(
      '--to <version>',
      'the version to go back to (default: the previous good one from the alias history)',
    )
    .option('--reason <text>', 'why (required; recorded)')
    .option('--expect <version>', 'roll back only if production still points at this version')
    .option('--json', 'print as JSON')
    .action(async (pipeline: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<
        GlobalOptions & { to?: string; reason?: string; expect?: string; json?: boolean }
      >()
      const to = options.to === undefined ? undefined : parseVersion(options.to, '--to')
      const expected = options.expect === undefined ? undefined : parseVersion(options.expect, '--expect')
      await withPlatform(options, async (platform) => {
        pipelineSpecOf(platform, pipeline)
        // A canary taking traffic is what an operator rolls back first: production is still the known-good version.
        if (await activeCanary(platform.db, pipeline)) {
          const stopped = await stopCanary(platform, { pipeline, actor: cliActor(), reason: checkReason(options.reason, 'to roll back') })
          if (to === undefined) {
            if (options.json === true) return printJson({ canary: stopped })
            process.stdout.write(`canary of ${pipeline} v${stopped.version} rolled back: all traffic goes to production v${stopped.baselineVersion} again\n`)
            return
          }
          process.stdout.write(`canary of ${pipeline} v${stopped.version} rolled back\n`)
        }
        const outcome = await rollbackProduction(platform.registry, {
          pipeline,
          actor: cliActor(),
          reason: options.reason ?? '',
          ...(to === undefined ? {} : { to }),
          ...(expected === undefined ? {} : { expected }),
        })
        if (options.json === true) return printJson(outcome)
        process.stdout.write(`${outcomeLine(outcome)}\n`)
      })
    })
}
