import { spawn } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPlatform, type Platform } from '../src/app/platform.js'
import { configFromObject } from '../src/config/load.js'
import type { FreshetConfigInput } from '../src/config/schema.js'
import { ingestFile } from '../src/data/ingest.js'
import { prepareSpam } from '../src/examples/spam.js'
import type { WorkResult } from '../src/orchestration/execute-run.js'
import type { EvaluatorEvent } from '../src/orchestration/triggers/evaluator.js'
import type { LandingEvent } from '../src/orchestration/triggers/landing.js'
import { startTriggers, type RunningTriggers } from '../src/orchestration/triggers/start.js'
import { Worker } from '../src/orchestration/worker.js'
import { cliPath } from './support/cli.js'
import { tempPlatform } from './support/workspace.js'

// Files dropped into a dataset's landing folder start runs by themselves: storage trigger end to end on the
// SpamAssassin corpus (a worker trains and registers a version), and the data trigger after an ingest.

/** Resolves with the first value `accept` returns for an event; `listen` subscribes. */
function waitFor<E, T>(
  accept: (event: E) => T | undefined,
): { listener: (event: E) => void; found: Promise<T> } {
  let resolve: (value: T) => void = () => undefined
  const found = new Promise<T>((r) => (resolve = r))
  return {
    listener: (event) => {
      const value = accept(event)
      if (value !== undefined) resolve(value)
    },
    found,
  }
}

describe('storage trigger on the spam corpus', () => {
  const config = {
    datasets: {
      emails: { landing: 'landing/emails', eventTime: 'sent_at', label: 'is_spam', id: 'message_id' },
    },
    pipelines: {
      spam: {
        dataset: 'emails',
        task: 'binary',
        mode: 'dynamic',
        features: {
          subject: { type: 'text' },
          body: { type: 'text', maxTokens: 200 },
          from_domain: { type: 'categorical' },
        },
        trainer: { type: 'linear', optimizer: 'ftrl', hashBits: 16 },
        split: { by: 'time', holdout: 0.2 },
        gate: { metric: 'auc', min: 0.9 },
        triggers: [{ on: 'storage' }],
      },
    },
  } satisfies FreshetConfigInput

  let dir: string
  let platform: Platform
  let last: string
  let triggers: RunningTriggers | undefined
  let worker: Worker | undefined

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-triggers-'))
    platform = await openPlatform(configFromObject(config, dir))
    const report = await prepareSpam(path.join(dir, 'data'))
    const files = report.files.map((f) => f.path)
    last = files.at(-1) ?? ''
    for (const file of files.slice(0, -1)) await ingestFile(platform, 'emails', file)
  }, 180_000)
  afterAll(async () => {
    await triggers?.stop()
    await worker?.stop()
    await platform.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a file dropped into landing is ingested, moved to .processed, and starts a run that registers a new version', async () => {
    const landing = path.join(dir, 'landing', 'emails')
    await mkdir(landing, { recursive: true })
    const processed = waitFor((e: LandingEvent) => (e.type === 'processed' ? e : undefined))
    triggers = startTriggers(platform, { pollMs: 20, intervalMs: 50, onLanding: processed.listener })
    await copyFile(last, path.join(landing, path.basename(last)))

    const event = await processed.found
    expect(event.result).toMatchObject({ status: 'ingested', batch: { state: 'accepted' } })
    expect(event.runs).toHaveLength(1)
    const run = event.runs[0]
    expect(run).toMatchObject({
      pipeline: 'spam',
      state: 'queued',
      trigger: { type: 'storage', details: { file: path.basename(last), batchId: event.result.batch.id } },
      idempotencyKey: `storage:${event.result.batch.id}`,
    })
    expect(await readdir(landing)).toEqual(['.processed'])
    expect(await readdir(path.join(landing, '.processed'))).toEqual([path.basename(last)])

    const done = waitFor((r: WorkResult) => (r.runId === run?.id ? r : undefined))
    worker = new Worker(platform, { pollMs: 50, onResult: done.listener })
    worker.start()
    expect((await done.found).result).toBe('succeeded')
    const finished = await platform.runs.get(run?.id ?? '')
    expect(finished.state).toBe('succeeded')
    expect(finished.steps.find((s) => s.name === 'resolve-data')?.details).toMatchObject({
      batchIds: expect.arrayContaining([event.result.batch.id]) as unknown,
    })
    const versions = await platform.registry.versions('spam')
    expect(versions.map((v) => v.version)).toEqual([1])
    expect(finished.outcome?.modelVersion).toBe(1)

    // The same bytes again: a duplicate, moved aside under a timestamped name, and no second run.
    const again = waitFor((e: LandingEvent) => (e.type === 'processed' ? e : undefined))
    await triggers.stop()
    triggers = startTriggers(platform, { pollMs: 20, intervalMs: 50, onLanding: again.listener })
    await copyFile(last, path.join(landing, path.basename(last)))
    expect(await again.found).toMatchObject({ result: { status: 'duplicate' }, runs: [] })
    expect(await readdir(path.join(landing, '.processed'))).toHaveLength(2)
    expect((await platform.runs.list({ pipeline: 'spam' })).length).toBe(1)
  }, 180_000)
})

describe('data trigger after a landing ingest', () => {
  it('a landed file that brings the new rows to minNewRows queues a data run; a second evaluation coalesces', async () => {
    const ws = await tempPlatform({
      datasets: { d: { landing: 'in', eventTime: 't', label: 'y' } },
      pipelines: {
        p: {
          dataset: 'd',
          task: 'binary',
          features: { x: { type: 'numeric' } },
          trainer: { type: 'linear', hashBits: 10 },
          triggers: [{ on: 'data', minNewRows: 15 }],
        },
      },
    })
    try {
      const csv = (from: number) =>
        't,x,y\n' +
        Array.from({ length: 10 }, (_, i) => `2024-01-0${(i % 9) + 1}T00:00:00Z,${from + i},${i % 2}`).join(
          '\n',
        ) +
        '\n'
      await mkdir(path.join(ws.dir, 'in'), { recursive: true })
      const runs: EvaluatorEvent[] = []
      let processed = 0
      const both = waitFor((e: LandingEvent) => (e.type === 'processed' && ++processed === 2 ? e : undefined))
      // A long timer interval: a run can only come from the evaluation that follows an ingest.
      const running = startTriggers(ws.platform, {
        pollMs: 20,
        intervalMs: 3_600_000,
        onLanding: both.listener,
        onTrigger: (e) => runs.push(e),
      })
      try {
        await writeFile(path.join(ws.dir, 'in', 'a.csv'), csv(0))
        await writeFile(path.join(ws.dir, 'in', 'a.csv.done'), '')
        await writeFile(path.join(ws.dir, 'in', 'b.csv'), csv(100))
        await writeFile(path.join(ws.dir, 'in', 'b.csv.done'), '')
        await both.found
        expect(runs).toMatchObject([
          {
            type: 'run',
            trigger: 'data',
            run: { pipeline: 'p', trigger: { type: 'data', details: { newRows: 20 } } },
          },
        ])
        await running.evaluator.evaluate()
        expect(await ws.platform.runs.list({ pipeline: 'p' })).toHaveLength(1)
      } finally {
        await running.stop()
      }
    } finally {
      await ws.dispose()
    }
  })
})

describe('freshet up', () => {
  it('watches landing folders: a dropped file is ingested and its storage run trained; SIGTERM stops it cleanly', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-up-'))
    try {
      const config = {
        datasets: { d: { landing: 'in', eventTime: 't', label: 'y' } },
        pipelines: {
          p: {
            dataset: 'd',
            task: 'binary',
            features: { x: { type: 'numeric' } },
            trainer: { type: 'linear', hashBits: 10 },
            split: { by: 'random', holdout: 0.25, seed: 1 },
            triggers: [{ on: 'storage' }],
          },
        },
      } satisfies FreshetConfigInput
      await writeFile(path.join(dir, 'freshet.config.json'), JSON.stringify(config))
      await mkdir(path.join(dir, 'in'))
      const child = spawn(process.execPath, [cliPath, 'up', '--port', '0'], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = []
      const check = () => {
        for (const w of [...waiters]) {
          const m = stdout.match(w.pattern)
          if (m !== null) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(m)
          }
        }
      }
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        check()
      })
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      const line = (pattern: RegExp) =>
        Promise.race([
          new Promise<RegExpMatchArray>((resolve) => {
            waiters.push({ pattern, resolve })
            check()
          }),
          exited.then(() => {
            throw new Error(`freshet up exited before printing ${String(pattern)}:\n${stdout}\n${stderr}`)
          }),
        ])
      try {
        await line(/Freshet is serving/)
        expect(stdout).toContain('landing: watching in for dataset d')
        const rows = Array.from(
          { length: 40 },
          (_, i) => `2024-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00Z,${i},${i % 2}`,
        )
        await writeFile(path.join(dir, 'in', 'a.csv'), `t,x,y\n${rows.join('\n')}\n`)
        await writeFile(path.join(dir, 'in', 'a.csv.done'), '')
        const started = await line(
          /landing: d\/a\.csv: batch \S+ accepted \(40 rows\); started run p\/(r_[0-9a-f]+); moved to in\/\.processed\/a\.csv/,
        )
        await line(new RegExp(`worker: run p/${started[1] ?? ''} (succeeded|failed)`))
        expect(stdout).toMatch(new RegExp(`worker: run p/${started[1] ?? ''} succeeded: v1( \\(auc [\\d.]+\\))? deployed, production none -> v1`))
      } finally {
        child.kill('SIGTERM')
      }
      expect(await exited).toBe(0)
      expect(stdout).toMatch(/stopping: landing folders and triggers first/)
      expect((await readdir(path.join(dir, 'in', '.processed'))).sort()).toEqual(['a.csv', 'a.csv.done'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
