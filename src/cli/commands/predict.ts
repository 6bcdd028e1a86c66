import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { FreshetError } from '../../core/errors.js'
import { Predictor } from '../../serving/predictor.js'
import { pipelineSpecOf } from '../../training/train.js'
import { printJson, withPlatform, type GlobalOptions } from '../context.js'

function parseInstances(options: { json?: string; file?: string }, fileText?: string): unknown[] {
  if (options.json !== undefined) {
    let value: unknown
    try {
      value = JSON.parse(options.json)
    } catch (error) {
      throw new FreshetError('USAGE', `--json: not valid JSON (${(error as Error).message})`)
    }
    return Array.isArray(value) ? value : [value]
  }
  return (fileText ?? '')
    .split('\n')
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter((l) => l.line !== '')
    .map(({ line, number }) => {
      try {
        return JSON.parse(line) as unknown
      } catch (error) {
        throw new FreshetError('INPUT_MALFORMED', `${options.file ?? 'input'} line ${number}: invalid JSON (${(error as Error).message})`, { line: number })
      }
    })
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description("score instances with the pipeline's production model, locally (no server needed)")
    .argument('<pipeline>', 'pipeline name')
    .option('--json <instance>', 'one instance as a JSON object, or a JSON array of them')
    .option('--file <jsonl>', 'a JSON Lines file of instances')
    .action(async (pipeline: string, options: { json?: string; file?: string }, command: Command) => {
      if ((options.json === undefined) === (options.file === undefined)) throw new FreshetError('USAGE', 'give exactly one of --json <instance> or --file <jsonl>')
      const fileText = options.file === undefined ? undefined : await readFile(options.file, 'utf8').catch((error: unknown) => {
        throw new FreshetError('FILE_NOT_FOUND', `${options.file}: ${(error as Error).message}`)
      })
      const instances = parseInstances(options, fileText)
      await withPlatform(command.optsWithGlobals<GlobalOptions>(), async (platform) => {
        pipelineSpecOf(platform, pipeline)
        const version = await platform.registry.alias(pipeline, 'production')
        if (version === undefined) throw new FreshetError('MODEL_NOT_FOUND', `pipeline ${pipeline} has no production model yet`, { hint: `train one: freshet train ${pipeline}` })
        const predictor = await Predictor.load(platform.registry, pipeline, version, platform.config.root)
        printJson(predictor.predict(instances))
      })
    })
}
