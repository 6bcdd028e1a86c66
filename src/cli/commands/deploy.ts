import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { deployVersion, type DeployOutcome } from '../../registry/deploys.js'
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
    .option('--json', 'print as JSON')
    .action(async (pipeline: string, versionText: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals<
        GlobalOptions & { alias: string; reason?: string; force?: boolean; expect?: string; json?: boolean }
      >()
      const version = parseVersion(versionText, 'version')
      const expected = parseExpected(options.expect)
      await withPlatform(options, async (platform) => {
        pipelineSpecOf(platform, pipeline)
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
