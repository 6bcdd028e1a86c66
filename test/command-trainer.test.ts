import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFromObject } from '../src/config/load.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { isFreshetError } from '../src/core/errors.js'
import { ingestFile } from '../src/data/ingest.js'
import type { SparseMatrix } from '../src/features/sparse.js'
import { Predictor } from '../src/serving/predictor.js'
import { createCommandTrainer, type CommandTrainerSpec } from '../src/training/command/command-trainer.js'
import { writeLibsvm } from '../src/training/command/libsvm.js'
import { parseXgboostModel } from '../src/training/command/xgboost-model.js'
import type { TrainerLogLine } from '../src/training/runner.js'
import { trainAndRegister } from '../src/training/train.js'
import type { TrainingData } from '../src/training/trainer.js'
import { deserializeWeights, serializeWeights } from '../src/training/weights.js'
import { clearlyNegative, clearlyPositive, fixtureConfig, learnableCsv } from './support/trained-model.js'
import { tempPlatform } from './support/workspace.js'

const xgboost = '/usr/bin/xgboost'
const xgboostSkip = existsSync(xgboost) ? undefined : `${xgboost} is absent (Debian package xgboost: apt-get install -y xgboost)`
if (xgboostSkip !== undefined) {
  if (process.env.FRESHET_REQUIRE_SERVICES === '1') throw new Error(`${xgboostSkip}; FRESHET_REQUIRE_SERVICES=1 makes this a failure`)
  console.warn(`skipping the xgboost tests: ${xgboostSkip}`)
}

/** Seeded rows over 50 columns: the label follows features 3 and 17; 30% of rows lack feature 17 (missing). */
function synthetic(rows: number, seed: number): TrainingData {
  let state = seed
  const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const indptr = [0]
  const indices: number[] = []
  const values: number[] = []
  const y: number[] = []
  for (let r = 0; r < rows; r++) {
    const a = random()
    const b = random()
    const hasB = random() > 0.3
    indices.push(3)
    values.push(a)
    if (hasB) {
      indices.push(17)
      values.push(b)
    }
    indices.push(20 + Math.floor(random() * 30))
    values.push(1)
    y.push(a + (hasB ? 0.5 * b : 0.6) + (random() - 0.5) * 0.3 > 0.8 ? 1 : 0)
    indptr.push(indices.length)
  }
  const x: SparseMatrix = { rows, cols: 64, indptr: Uint32Array.from(indptr), indices: Uint32Array.from(indices), values: Float32Array.from(values) }
  return { x, y: Float64Array.from(y), task: 'binary' }
}

const xgboostArgv = (extra: string[] = []): string[] => [
  xgboost,
  '/dev/null',
  'data={FRESHET_TRAIN_DATA}?format=libsvm',
  'eval[holdout]={FRESHET_TEST_DATA}?format=libsvm',
  'objective=binary:logistic',
  'max_depth=4',
  'num_round=20',
  'model_out={FRESHET_OUTPUT_DIR}/model.json',
  ...extra,
]

const expectFailure = async (promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isFreshetError(error), String(error)).toBe(true)
  expect((error as { code: string }).code).toBe(code)
  expect((error as Error).message).toMatch(pattern)
}

let scratch: string
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'freshet-command-test-'))
})
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

describe.skipIf(xgboostSkip !== undefined)("the command trainer with Debian's xgboost", () => {
  it('trains through the CLI and scores exactly as `xgboost task=pred` does on the same rows, missing features included', async () => {
    const output: string[] = []
    const trainer = createCommandTrainer({ type: 'command', argv: xgboostArgv() }, { onOutput: (_, chunk) => output.push(chunk.toString()) })
    const train = synthetic(600, 1)
    const test = synthetic(200, 2)
    const weights = await trainer.fit(train, { holdout: test })
    expect(output.join('')).toMatch(/\[19\]\tholdout-logloss:/)
    expect(weights.manifest).toMatchObject({ format: 'xgboost-json', objective: 'binary:logistic', trees: 20 })

    // The stored model, exported back to a file, is what xgboost's own predictor reads.
    const stored = deserializeWeights(serializeWeights(weights))
    const source = stored.manifest.source as { base64: string }
    const modelFile = path.join(scratch, 'parity-model.json')
    await writeFile(modelFile, Buffer.from(source.base64, 'base64'))
    const testFile = path.join(scratch, 'parity-test.libsvm')
    await writeLibsvm(testFile, test)
    const predFile = path.join(scratch, 'parity-pred.txt')
    execFileSync(xgboost, ['/dev/null', 'task=pred', `test:data=${testFile}?format=libsvm`, `model_in=${modelFile}`, `name_pred=${predFile}`], { stdio: 'ignore' })
    const theirs = (await readFile(predFile, 'utf8')).trim().split('\n').map(Number)
    const ours = trainer.predict(stored, test.x)
    expect(theirs).toHaveLength(200)
    let worst = 0
    theirs.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - (ours[i] as number)))))
    expect(worst).toBeLessThan(1e-5)
    // And it learned: positives score higher than negatives on average.
    const mean = (label: number) => {
      const picked = [...ours].filter((_, i) => test.y[i] === label)
      return picked.reduce((s, p) => s + p, 0) / picked.length
    }
    expect(mean(1) - mean(0)).toBeGreaterThan(0.4)
  }, 60_000)

  it('runs a pipeline end to end: xgboost output in the run log, the model registered, deployed and served from Node', async () => {
    const config = {
      ...fixtureConfig,
      pipelines: {
        p: {
          ...fixtureConfig.pipelines.p,
          // Relative config file: the command runs in the workspace.
          trainer: { type: 'command', argv: [xgboost, 'xgb.conf', 'data={FRESHET_TRAIN_DATA}?format=libsvm', 'eval[holdout]={FRESHET_TEST_DATA}?format=libsvm', 'model_out={FRESHET_OUTPUT_DIR}/model.json'], hashBits: 12, timeout: '5m' },
          gate: { metric: 'auc', min: 0.8 },
        },
      },
    } satisfies FreshetConfigInput
    const { platform, dir, dispose } = await tempPlatform(config)
    try {
      await writeFile(path.join(dir, 'xgb.conf'), 'objective = binary:logistic\nmax_depth = 3\neta = 0.3\nnum_round = 15\n')
      await writeFile(path.join(dir, 'd.csv'), learnableCsv(400))
      await ingestFile(platform, 'd', path.join(dir, 'd.csv'))
      const log: TrainerLogLine[] = []
      const outcome = await trainAndRegister(platform, 'p', { actor: 'test', onLog: (line) => log.push(line) })
      expect(log.some((l) => l.stream === 'stderr' && /\[14\]\tholdout-logloss:/.test(l.line))).toBe(true)
      expect(outcome.gate.passed).toBe(true)
      expect(outcome.deployed).toBe(true)
      expect(outcome.model.trainer).toBe('command')
      expect(outcome.model.metrics.auc).toBeGreaterThan(0.8)

      const predictor = await Predictor.load(platform.registry, 'p', outcome.model.version, dir)
      const [high, low] = predictor.predict([clearlyPositive, clearlyNegative]).predictions
      expect(high).toBeGreaterThan(0.7)
      expect(low).toBeLessThan(0.3)
    } finally {
      await dispose()
    }
  }, 120_000)

  it('fails with the end of the command’s stderr when xgboost rejects its parameters', async () => {
    const trainer = createCommandTrainer({ type: 'command', argv: xgboostArgv(['objective=no:such']) })
    await expectFailure(Promise.resolve(trainer.fit(synthetic(50, 3))), 'USAGE', /FRESHET_TEST_DATA.*holdout|holdout/)
    await expectFailure(Promise.resolve(trainer.fit(synthetic(50, 3), { holdout: synthetic(20, 4) })), 'TRAINING_FAILED', /xgboost exited with code \d+:[\s\S]*no:such/)
  }, 30_000)
})

describe('the command trainer, whatever the program', () => {
  const data = synthetic(30, 5)
  const node = (script: string) => createCommandTrainer({ type: 'command', argv: [process.execPath, '-e', script], timeout: '30s' }, { onOutput: () => undefined })

  it('names the missing model file when the command wrote none', async () => {
    await expectFailure(Promise.resolve(node('').fit(data)), 'TRAINING_FAILED', /wrote no model file model\.json in FRESHET_OUTPUT_DIR/)
  })

  it('names the file and the field of a bad metrics file or model file', async () => {
    const model = JSON.stringify({ learner: { learner_model_param: { base_score: '5E-1' }, objective: { name: 'binary:logistic' }, gradient_booster: { name: 'gbtree', model: { trees: [{ left_children: [-1], right_children: [-1], split_indices: [0], split_conditions: [0.25], default_left: [0] }] } } } })
    const writeBoth = (metrics: string) =>
      `const fs = require('fs'), p = require('path'); fs.writeFileSync(p.join(process.env.FRESHET_OUTPUT_DIR, 'model.json'), ${JSON.stringify(model)}); fs.writeFileSync(process.env.FRESHET_METRICS_FILE, ${JSON.stringify(metrics)})`
    await expectFailure(Promise.resolve(node(writeBoth('{"auc": "high"}')).fit(data)), 'TRAINING_FAILED', /metrics file .*metrics\.json: field "auc": expected a number/)
    const weights = await node(writeBoth('{"auc": 0.91}')).fit(data)
    expect(weights.manifest.reportedMetrics).toEqual({ auc: 0.91 })
    // One leaf of 0.25: every row scores sigmoid(logit(0.5) + 0.25).
    expect(node('').predict(weights, data.x)[0]).toBeCloseTo(1 / (1 + Math.exp(-0.25)), 6)

    const badModel = `require('fs').writeFileSync(require('path').join(process.env.FRESHET_OUTPUT_DIR, 'model.json'), '{"learner": {"objective": {}}}')`
    await expectFailure(Promise.resolve(node(badModel).fit(data)), 'TRAINING_FAILED', /model\.json: is not an XGBoost JSON model: learner\.learner_model_param/)
  })

  it('rejects a model whose trees would not end (a child before its parent) and an objective it cannot score', () => {
    const model = (trees: unknown, objective = 'binary:logistic') => JSON.stringify({ learner: { learner_model_param: { base_score: '5E-1' }, objective: { name: objective }, gradient_booster: { name: 'gbtree', model: { trees } } } })
    const loop = [{ left_children: [1, 0], right_children: [1, -1], split_indices: [0, 0], split_conditions: [0.5, 0.1], default_left: [0, 0] }]
    expect(() => parseXgboostModel(model(loop), 'model.json', 'binary')).toThrow(/trees\[0\]: node 1 has children 0 and -1 outside 2..1/)
    const leaf = [{ left_children: [-1], right_children: [-1], split_indices: [0], split_conditions: [0.1], default_left: [0] }]
    expect(() => parseXgboostModel(model(leaf, 'reg:squarederror'), 'model.json', 'binary')).toThrow(/objective.name is reg:squarederror, but the pipeline's task is binary/)
    expect(() => parseXgboostModel(model(leaf, 'rank:pairwise'), 'model.json', 'regression')).toThrow(/rank:pairwise.*cannot score/)
  })

  it('kills a command that outlives its time limit, with its children', async () => {
    const pidFile = path.join(scratch, 'grandchild.pid')
    const trainer = createCommandTrainer(
      { type: 'command', argv: [process.execPath, '-e', `const c = require('child_process').spawn('sleep', ['300'], { stdio: 'ignore' }); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setInterval(() => {}, 1000)`], timeout: '2s' },
      { onOutput: () => undefined },
    )
    await expectFailure(Promise.resolve(trainer.fit(data)), 'TRAINING_FAILED', /ran longer than its time limit of 2 s and was killed/)
    const grandchild = Number(await readFile(pidFile, 'utf8'))
    // Gone, or a zombie waiting for init to reap it (state Z): either way no longer running.
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${grandchild}/stat`, 'utf8'))
      } catch {
        return false
      }
    }
    expect(alive()).toBe(false)
  }, 30_000)

  it('runs argv without a shell: metacharacters are plain arguments', async () => {
    const marker = path.join(scratch, 'not-created')
    const echo = createCommandTrainer({ type: 'command', argv: [process.execPath, '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', `; touch ${marker}`, '$(id)'] }, { onOutput: (_, chunk) => printed.push(chunk.toString()) })
    const printed: string[] = []
    await expectFailure(Promise.resolve(echo.fit(data)), 'TRAINING_FAILED', /no model file/)
    expect(JSON.parse(printed.join(''))).toEqual([`; touch ${marker}`, '$(id)'])
    expect(existsSync(marker)).toBe(false)
  })

  it('is configured only by a non-empty argv of strings in the config file', () => {
    const pipelineWith = (trainer: unknown) => ({ ...fixtureConfig, pipelines: { p: { ...fixtureConfig.pipelines.p, trainer } } })
    const problem = (trainer: unknown): string => {
      try {
        configFromObject(pipelineWith(trainer), scratch)
        return 'accepted'
      } catch (error) {
        return error instanceof Error ? error.message : String(error)
      }
    }
    expect(problem({ type: 'command', argv: [] })).toMatch(/argv.*non-empty array of strings/)
    expect(problem({ type: 'command', argv: 'xgboost train.conf' })).toMatch(/argv: an array of strings/)
    expect(problem({ type: 'command', argv: ['xgboost', 3] })).toMatch(/argv entry to be a string/)
    expect(problem({ type: 'command', argv: ['xgboost'], modelFile: '../escape.json' })).toMatch(/inside the output directory/)
    expect(problem({ type: 'command', argv: ['xgboost'], shell: true })).toMatch(/unknown key "shell"/)
    const spec = configFromObject(pipelineWith({ type: 'command', argv: ['xgboost', 'x.conf'], timeout: '10m' }), scratch).config.pipelines?.p?.trainer as CommandTrainerSpec
    expect(spec.argv).toEqual(['xgboost', 'x.conf'])
  })
})
