import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { TrainerSpec } from '../../config/schema.js'
import { parseDuration } from '../../core/durations.js'
import { FreshetError } from '../../core/errors.js'
import type { SparseMatrix } from '../../features/sparse.js'
import type { FitOptions, ModelWeights, Trainer, TrainingData } from '../trainer.js'
import { writeLibsvm } from './libsvm.js'
import { readReportedMetrics } from './metrics-file.js'
import { runCommand } from './run-command.js'
import { parseXgboostModel, scoreXgboost } from './xgboost-model.js'

export type CommandTrainerSpec = Extract<TrainerSpec, { type: 'command' }>

export interface CommandTrainerOptions {
  /** Working directory of the command (the workspace root). Default: this process's. */
  cwd?: string
  /** Where the data and output folders are made (removed after each fit). Default: the OS temp directory. */
  tmpDir?: string
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void
}

/** Default time limit of one training command. */
export const DEFAULT_COMMAND_TIMEOUT = '1h'
/** Largest model file read back: the artifact holds it whole. */
const MAX_MODEL_BYTES = 512 * 1024 * 1024

/** The variables a command gets, in its environment and as `{NAME}` placeholders in its argv. */
const variables = ['FRESHET_TRAIN_DATA', 'FRESHET_TEST_DATA', 'FRESHET_OUTPUT_DIR', 'FRESHET_METRICS_FILE', 'FRESHET_TASK'] as const

/** argv with each `{FRESHET_…}` placeholder replaced by its value (plain text substitution: there is no shell). */
function expandArgv(argv: readonly string[], values: Partial<Record<(typeof variables)[number], string>>): string[] {
  return argv.map((arg) =>
    arg.replace(/\{(FRESHET_[A-Z_]+)\}/g, (whole, name: string) => {
      if (!(variables as readonly string[]).includes(name)) {
        throw new FreshetError('CONFIG_INVALID', `trainer.argv: unknown placeholder ${whole} in ${JSON.stringify(arg)}`, { hint: `the placeholders are ${variables.map((v) => `{${v}}`).join(', ')}` })
      }
      const value = values[name as (typeof variables)[number]]
      if (value === undefined) throw new FreshetError('USAGE', `trainer.argv uses ${whole}, but this training has no ${name === 'FRESHET_TEST_DATA' ? 'holdout' : name}`)
      return value
    }),
  )
}

/**
 * A trainer that runs a configured program (XGBoost's CLI, a script that submits to a cluster) on the hashed
 * features written as LibSVM files, then reads the model it wrote back as data and scores it in TypeScript.
 *
 * The command gets `FRESHET_TRAIN_DATA` and `FRESHET_TEST_DATA` (LibSVM files), `FRESHET_OUTPUT_DIR` (where it
 * writes `modelFile`, default `model.json`), `FRESHET_METRICS_FILE` (optional JSON object of numbers it reports)
 * and `FRESHET_TASK`, in its environment and as `{NAME}` placeholders in argv. Its output goes to the run log.
 * Serving never runs the command: `predict` walks the stored trees.
 * @example
 * createCommandTrainer({ type: 'command', argv: ['xgboost', 'train.conf', 'data={FRESHET_TRAIN_DATA}?format=libsvm', 'model_out={FRESHET_OUTPUT_DIR}/model.json'] })
 */
export function createCommandTrainer(spec: CommandTrainerSpec, options: CommandTrainerOptions = {}): Trainer {
  const modelFile = spec.modelFile ?? 'model.json'
  return {
    type: 'command',
    async fit(data: TrainingData, fit: FitOptions = {}): Promise<ModelWeights> {
      if (fit.warmStart !== undefined) throw new FreshetError('USAGE', 'the command trainer trains from scratch; it does not continue from a previous model')
      if (fit.progressive !== undefined) throw new FreshetError('USAGE', 'the command trainer cannot learn online', { hint: "use strategy 'full'" })
      const tmpRoot = options.tmpDir ?? os.tmpdir()
      await mkdir(tmpRoot, { recursive: true })
      const work = await mkdtemp(path.join(tmpRoot, 'freshet-command-'))
      try {
        const outputDir = path.join(work, 'output')
        await mkdir(outputDir)
        const values: Partial<Record<(typeof variables)[number], string>> = {
          FRESHET_TRAIN_DATA: path.join(work, 'train.libsvm'),
          FRESHET_OUTPUT_DIR: outputDir,
          FRESHET_METRICS_FILE: path.join(work, 'metrics.json'),
          FRESHET_TASK: data.task,
        }
        await writeLibsvm(values.FRESHET_TRAIN_DATA as string, data)
        if (fit.holdout !== undefined) {
          values.FRESHET_TEST_DATA = path.join(work, 'test.libsvm')
          await writeLibsvm(values.FRESHET_TEST_DATA, fit.holdout)
        }
        const argv = expandArgv(spec.argv, values)
        const env = Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined))
        await runCommand({
          argv,
          cwd: options.cwd ?? process.cwd(),
          env,
          timeoutMs: parseDuration(spec.timeout ?? DEFAULT_COMMAND_TIMEOUT),
          ...(fit.signal === undefined ? {} : { signal: fit.signal }),
          ...(options.onOutput === undefined ? {} : { onOutput: options.onOutput }),
        })
        const file = path.join(outputDir, modelFile)
        const size = await stat(file).then(
          (s) => s.size,
          () => {
            throw new FreshetError('TRAINING_FAILED', `${argv[0] ?? 'the command'} exited 0 but wrote no model file ${modelFile} in FRESHET_OUTPUT_DIR (${file})`, {
              hint: `write the model to $FRESHET_OUTPUT_DIR/${modelFile} (for xgboost: model_out={FRESHET_OUTPUT_DIR}/${modelFile}), or set trainer.modelFile`,
            })
          },
        )
        if (size > MAX_MODEL_BYTES) throw new FreshetError('TRAINING_FAILED', `the model file ${modelFile} is ${size} bytes, over the limit of ${MAX_MODEL_BYTES}`)
        const bytes = await readFile(file)
        const weights = parseXgboostModel(bytes.toString('utf8'), modelFile, data.task)
        const reported = await readReportedMetrics(values.FRESHET_METRICS_FILE as string)
        // The produced file is kept whole, as data, so it can be exported back to XGBoost.
        weights.manifest = {
          ...weights.manifest,
          reportedMetrics: reported,
          source: { file: modelFile, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), base64: bytes.toString('base64') },
        }
        return weights
      } finally {
        await rm(work, { recursive: true, force: true })
      }
    },
    predict(weights: ModelWeights, x: SparseMatrix, out?: Float64Array): Float64Array {
      if (weights.manifest.format !== 'xgboost-json') {
        throw new FreshetError('USAGE', `these weights are not a model the command trainer read (format ${JSON.stringify(weights.manifest.format)})`)
      }
      return scoreXgboost(weights, x, out)
    },
  }
}
