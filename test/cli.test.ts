import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './support/cli.js'

let dir: string
let ws: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-cli-'))
  ws = path.join(dir, 'w')
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

interface DataJson {
  rows: number
  batches: { id: string; rows: number; state: string }[]
  statistics: { name: string; count: number; distinct: number; boolean?: { trueCount: number } }[]
}

describe('freshet CLI on the SpamAssassin example', () => {
  it('init --example spam prepares monthly JSON Lines files', async () => {
    const init = await runCli(['init', ws, '--example', 'spam'], { cwd: dir })
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain('freshet ingest emails')
    const files = (await readdir(path.join(ws, 'data', 'emails'))).filter((f) => /^emails-\d{4}-\d{2}\.jsonl$/.test(f))
    expect(files.length).toBeGreaterThan(10)
  })

  it('ingests every month, reports about 6,000 rows with statistics, and a re-ingest is a no-op', async () => {
    const files = (await readdir(path.join(ws, 'data', 'emails'))).filter((f) => /^emails-.*\.jsonl$/.test(f)).map((f) => path.join('data', 'emails', f))
    const ingest = await runCli(['ingest', 'emails', ...files], { cwd: ws })
    expect(ingest.code, ingest.stderr).toBe(0)
    expect(ingest.stdout.match(/^ingested /gm)).toHaveLength(files.length)

    const data = await runCli(['data', 'emails', '--json'], { cwd: ws })
    expect(data.code, data.stderr).toBe(0)
    const json = JSON.parse(data.stdout) as DataJson
    expect(json.rows).toBeGreaterThan(5900)
    expect(json.rows).toBeLessThanOrEqual(6046)
    expect(json.batches).toHaveLength(files.length)
    const spam = json.statistics.find((s) => s.name === 'is_spam')
    expect(spam?.count).toBe(json.rows)
    expect(spam?.boolean?.trueCount).toBeGreaterThan(1500)
    expect(json.statistics.find((s) => s.name === 'from_domain')?.distinct).toBeGreaterThan(100)

    const again = await runCli(['ingest', 'emails', ...files], { cwd: ws })
    expect(again.code).toBe(0)
    expect(again.stdout.match(/^unchanged /gm)).toHaveLength(files.length)
    const after = JSON.parse((await runCli(['data', 'emails', '--json'], { cwd: ws })).stdout) as DataJson
    expect(after.batches).toHaveLength(files.length)

    const table = await runCli(['data', 'emails'], { cwd: ws })
    expect(table.stdout).toMatch(/dataset emails: [\d,]+ rows in \d+ batches/)
    const schema = await runCli(['schema', 'emails'], { cwd: ws })
    expect(schema.stdout).toMatch(/sent_at\s+timestamp\s+\S+\s+event time/)
    expect(schema.stdout).toMatch(/is_spam\s+boolean\s+BOOLEAN\s+label/)
  }, 120_000)

  it('exits 1 with the file and line for bad input, and 2 for usage errors', async () => {
    await writeFile(path.join(ws, 'bad.jsonl'), '{"message_id":"x"}\nnot json\n')
    const bad = await runCli(['ingest', 'emails', 'bad.jsonl'], { cwd: ws })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('bad.jsonl line 2: invalid JSON')

    const missing = await runCli(['ingest', 'emials', 'bad.jsonl'], { cwd: ws })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('did you mean "emails"')

    const usage = await runCli(['ingest'], { cwd: ws })
    expect(usage.code).toBe(2)
    const noWorkspace = await runCli(['data', 'emails'], { cwd: dir })
    expect(noWorkspace.code).toBe(2)
    expect(noWorkspace.stderr).toContain('freshet init')
  })
})
