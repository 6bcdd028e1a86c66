import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { checkReason, deployVersion, type DeployOutcome } from '../../registry/deploys.js'
import { startCanary } from '../../serving/canary.js'
import { pipelineSpecOf } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'
import { cliActor } from './runs.js'

/** A version number as typed: `3` or `v3`. */
export function parseVersion(text: string, what: string): number {
  const match = /^v?(\d{1,9})$/i.exec(text.trim())
  const version = match === null ? Number.NaN : Number(match[1])
  if (!Number.isInteger(version) || version < 1)
    throw new FreshetError(
      'USAGE',
      `${what}: expected a version number like 3 or v3, got ${JSON.stringify(text)}`,
    )
  return version
}

function parsePercent(text: string): number {
  const percent = Number(text)
  if (!(percent > 0 && percent < 100))
    throw new FreshetError('USAGE', `--canary: expected a percent above 0 and below 100, got ${JSON.stringify(text)}`)
  return percent
}

/** `--expect`: a version, or `none` for an alias that points at nothing yet. */
export function parseExpected(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined
  return text.trim().toLowerCase() === 'none' ? null : parseVersion(text, '--expect')
}

/** One line saying what a deploy or rollback did. */
export function outcomeLine(o: DeployOutcome): string {
  if (!o.changed) return `${o.alias} of ${o.pipeline} already points at v${o.to}; nothing was changed`
  const from = o.from === null ? 'no version' : `v${o.from}`
  return `${o.alias} of ${o.pipeline}: ${from} -> v${o.to}${o.forced ? ' (forced past its failed gate)' : ''}, by ${o.move?.actor ?? '?'}: ${o.move?.reason ?? ''}`
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description(
      'point an alias (production by default) at a model version by compare-and-swap; who and why are recorded',
    )
    .argument('<pipeline>', 'pipeline name')
    .argument('<version>', 'model version (3 or v3)')
    .option('--alias <name>', 'the alias to move', 'production')
    .option('--reason <text>', 'why (recorded; required for production and with --force)')
    .option('--force', 'deploy a version that failed its gate (needs --reason; recorded)')
    .option(
      '--expect <version>',
      'move only if the alias still points at this version (`none`: at no version)',
    )
    .option('--canary <percent>', 'serve the version to this share of traffic as a canary (deploy.canary.bake, deploy.rollbackOn apply) instead of moving production', parsePercent)
    .option('--bake <duration>', 'with --canary: how long the canary bakes before it is promoted (default deploy.canary.bake)')
    .option('--json', 'print as JSON')
    .action(async (pipeline: string, versionText: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<
        GlobalOptions & { alias: string; reason?: string; force?: boolean; expect?: string; json?: boolean; canary?: number; bake?: string }
      >()
      const version = parseVersion(versionText, 'version')
      const expected = parseExpected(options.expect)
      await withPlatform(options, async (platform) => {
        pipelineSpecOf(platform, pipeline)
        if (options.canary !== undefined) {
          const canary = await startCanary(platform, {
            pipeline,
            version,
            percent: options.canary,
            ...(options.bake === undefined ? {} : { bake: options.bake }),
            actor: cliActor(),
            reason: checkReason(options.reason, 'to start a canary'),
            ...(options.force === true ? { force: true } : {}),
          })
          if (options.json === true) return printJson(canary)
          process.stdout.write(
            `canary of ${pipeline}: v${canary.version} serves ${canary.percent}% of traffic until ${canary.bakeUntil}; \`freshet up\` promotes it then, or rolls it back as soon as it does worse than production\n`,
          )
          return
        }
        const outcome = await deployVersion(platform.registry, {
          pipeline,
          alias: options.alias,
          version,
          actor: cliActor(),
          ...(expected === undefined ? {} : { expected }),
          ...(options.reason === undefined ? {} : { reason: options.reason }),
          ...(options.force === true ? { force: true } : {}),
        })
        if (options.json === true) return printJson(outcome)
        process.stdout.write(`${outcomeLine(outcome)}\n`)
      })
    })
}
