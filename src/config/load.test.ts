import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { FreshetError } from '../core/errors.js'
import { loadConfig, validateConfig } from './load.js'

function problems(input: unknown): string {
  try {
    validateConfig(input)
  } catch (error) {
    expect(error).toBeInstanceOf(FreshetError)
    expect((error as FreshetError).code).toBe('CONFIG_INVALID')
    return (error as FreshetError).message
  }
  throw new Error('expected the config to be rejected')
}

const pipeline = {
  dataset: 'emails',
  task: 'binary',
  features: { subject: { type: 'text' } },
  trainer: { type: 'linear', hashBits: 20 },
}

describe('config validation', () => {
  it('names the path, the expectation and the actual value', () => {
    const message = problems({ datasets: { emails: {} }, pipelines: { spam: { ...pipeline, trainer: { type: 'linear', hashBits: 'x' } } } })
    expect(message).toContain('pipelines.spam.trainer.hashBits: expected an integer from 10 to 30, got "x"')
  })

  it('rejects unknown keys with a did-you-mean', () => {
    expect(problems({ datasets: { emails: { eventTme: 'sent_at' } } })).toContain('datasets.emails: unknown key "eventTme", did you mean "eventTime"?')
    expect(problems({ datasetz: {} })).toContain('unknown key "datasetz", did you mean "datasets"?')
  })

  it('suggests the closest trainer type and names pipelines pointing at missing datasets', () => {
    expect(problems({ datasets: { emails: {} }, pipelines: { spam: { ...pipeline, trainer: { type: 'liner' } } } })).toContain(
      'pipelines.spam.trainer.type: expected one of linear, naive-bayes, custom, command, got "liner" (did you mean "linear"?)',
    )
    expect(problems({ datasets: { emails: {} }, pipelines: { spam: { ...pipeline, dataset: 'email' } } })).toContain(
      'pipelines.spam.dataset: expected one of the datasets (emails), got "email" (did you mean "emails"?)',
    )
  })

  it('checks durations and lists every problem at once', () => {
    const message = problems({
      datasets: { emails: {} },
      pipelines: { spam: { ...pipeline, training: { window: '90 days' }, split: { by: 'time', holdout: '7d' }, triggers: [{ on: 'data', cooldown: '5x' }] } },
    })
    expect(message).toContain('pipelines.spam.training.window: expected a duration like 30s, 5m, 2h or 7d, got "90 days"')
    expect(message).toContain('pipelines.spam.triggers[0].cooldown: expected a duration')
    expect(message).not.toContain('holdout')
  })

  it('accepts the design example', () => {
    const config = validateConfig({
      datasets: { emails: { landing: 'landing/emails', eventTime: 'sent_at', label: 'is_spam', id: 'message_id', validation: { drift: { threshold: 0.1 }, maxMissing: 0.05 } } },
      pipelines: {
        spam: {
          ...pipeline,
          features: { subject: { type: 'text' }, body: { type: 'text', maxTokens: 400 }, from_domain: { type: 'categorical' } },
          trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 20 },
          mode: 'dynamic',
          training: { window: '90d', strategy: 'warm-start' },
          split: { by: 'time', holdout: '7d' },
          triggers: [{ on: 'data', minNewRows: 500, cooldown: '5m' }, { on: 'schedule', cron: '0 3 * * *' }],
          gate: { metric: 'auc', min: 0.9, maxRegression: 0.005 },
          deploy: { auto: true, canary: { percent: 10, bake: '15m' }, rollbackOn: { metric: 'logloss', maxRegression: 0.02 } },
        },
      },
    })
    expect(config.pipelines?.spam?.trainer).toEqual({ type: 'linear', optimizer: 'ftrl', hashBits: 20 })
  })
})

describe('loadConfig', () => {
  it('loads a TypeScript config that imports from "freshet" outside the package', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-config-'))
    await writeFile(
      path.join(dir, 'freshet.config.ts'),
      `import { defineConfig, text } from 'freshet'\nconst spec: { type: 'text' } = text()\nexport default defineConfig({ state: 'st', datasets: { emails: { label: 'is_spam' } }, pipelines: { spam: { dataset: 'emails', task: 'binary', features: { subject: spec }, trainer: { type: 'naive-bayes' } } } })\n`,
    )
    const loaded = await loadConfig(dir)
    expect(loaded.file).toBe(path.join(dir, 'freshet.config.ts'))
    expect(loaded.stateDir).toBe(path.join(dir, 'st'))
    expect(loaded.config.pipelines?.spam?.features.subject).toEqual({ type: 'text' })
  })

  it('loads JSON and reports a syntax error with the file name', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-config-'))
    await writeFile(path.join(dir, 'freshet.config.json'), '{"datasets": {"a": {}}}')
    expect(Object.keys((await loadConfig(dir)).config.datasets ?? {})).toEqual(['a'])
    const bad = await mkdtemp(path.join(os.tmpdir(), 'freshet-config-'))
    await writeFile(path.join(bad, 'freshet.config.json'), '{"datasets": ')
    await expect(loadConfig(bad)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('freshet.config.json is not valid JSON') as unknown })
  })

  it('says how to create a workspace when there is no config', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-config-'))
    await expect(loadConfig(dir)).rejects.toMatchObject({ code: 'CONFIG_NOT_FOUND', hint: expect.stringContaining('freshet init') as unknown })
  })
})
