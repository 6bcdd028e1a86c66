import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config/load.js'
import { exampleConfig, exampleDataset, exampleNames, exampleReadme, isExampleName, prepareExample } from './templates.js'

const temp: string[] = []

afterAll(async () => {
  await Promise.all(temp.map((dir) => rm(dir, { recursive: true, force: true })))
})

describe('example templates', () => {
  it('declares the example dataset in freshet.config.ts', () => {
    expect(exampleNames).toEqual(['spam', 'flights'])
    expect(isExampleName('spam')).toBe(true)
    expect(isExampleName('ads')).toBe(false)
    const spam = exampleConfig('spam')
    expect(spam).toContain("import { defineConfig, text, categorical } from 'freshet'")
    expect(spam).toMatch(
      /emails: \{\s+landing: 'landing\/emails',\s+eventTime: 'sent_at',\s+label: 'is_spam',\s+id: 'message_id',/,
    )
    expect(exampleConfig('flights')).toMatch(
      /flights: \{\s+landing: 'landing\/flights',\s+eventTime: 'date',\s+label: 'delayed',\s+\}/,
    )
  })

  it('writes configs that load and validate, each with a pipeline on its dataset', async () => {
    for (const name of exampleNames) {
      const dir = await mkdtemp(join(tmpdir(), 'freshet-template-'))
      await writeFile(join(dir, 'freshet.config.ts'), exampleConfig(name))
      const { config } = await loadConfig(dir)
      const [pipeline] = Object.values(config.pipelines ?? {})
      expect(pipeline?.dataset).toBe(exampleDataset(name))
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('tells the user the next commands, with globs that match only the data files', () => {
    expect(exampleReadme('spam')).toContain('freshet ingest emails data/emails/emails-*.jsonl')
    expect(exampleReadme('spam')).toContain('freshet schema emails')
    expect(exampleReadme('flights')).toContain('freshet ingest flights data/flights/flights-*.parquet')
    expect(exampleReadme('flights')).toContain('freshet data flights')
  })

  it('writes the data under data/<dataset> of the workspace', async () => {
    const workspace = await mkdtemp(join(tmpdir(), 'freshet-example-'))
    temp.push(workspace)
    const report = await prepareExample('flights', workspace, { limitWeeks: 1 })
    expect(report.files.map((file) => file.path)).toEqual([
      join(workspace, 'data', 'flights', 'flights-2001-01-01.parquet'),
    ])
    expect(await readdir(join(workspace, 'data'))).toEqual(['flights'])
  })
})
