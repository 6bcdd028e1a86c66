import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import type { MetadataDb } from '../metadata/database.js'
import { SqlJobQueue } from './sql-job-queue.js'

const dist = (relative: string): string => fileURLToPath(new URL(`../../../dist/src/${relative}`, import.meta.url))

/** How a worker process opens the metadata database: the compiled module, its export, and the call's extra argument. */
export interface ProcessOpen {
  readonly module: string
  readonly exportName: string
  /** JSON of a second argument to pass, if any. */
  readonly options?: string
}

// Claims until nothing is queued; each job's result is written in the same transaction as its completion.
const workerScript = (open: ProcessOpen) => `
import { createInterface } from 'node:readline'
import { ${open.exportName} as open } from ${JSON.stringify(dist(open.module))}
import { SqlJobQueue } from ${JSON.stringify(dist('storage/queue/sql-job-queue.js'))}
const [target, workerId] = process.argv.slice(2)
const db = await open(target${open.options === undefined ? '' : `, ${open.options}`})
const queue = new SqlJobQueue(db)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
process.stdout.write('ready\\n')
await lines.next()
const done = []
for (;;) {
  const claim = await queue.claim(workerId, { kinds: ['multi'], leaseMs: 60_000 })
  if (claim === undefined) {
    if ((await queue.list({ kind: 'multi', state: 'queued' })).length === 0) break
    continue
  }
  const n = claim.job.payload.n
  await new Promise((resolve) => setTimeout(resolve, 5)) // the work, so that the workers overlap
  await queue.withLease(claim.job.id, claim.token, async (trx) => {
    await trx.insertInto('datasets').values({ name: 'job-' + n, created_at: new Date().toISOString() }).execute()
    await queue.complete(claim.job.id, claim.token, { workerId }, trx)
  })
  done.push(n)
}
await db.destroy()
process.stdout.write(JSON.stringify(done) + '\\n')
process.exit(0)
`

interface Child {
  readonly ready: Promise<void>
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>
  go(): void
}

function startWorker(script: string, target: string, workerId: string): Child {
  const child = spawn(process.execPath, [script, target, workerId], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let markReady: () => void = () => undefined
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    if (stdout.startsWith('ready\n')) markReady()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      markReady()
      resolve({ code, stdout, stderr })
    })
  })
  return { ready, exited, go: () => child.stdin.end('go\n') }
}

/**
 * Three worker processes (the compiled queue, so `npm run build` first) claim 30 jobs from the database `db` that
 * `target` names to them: every job completes exactly once, by the worker that claimed it, with its write.
 */
export async function checkThreeWorkerProcesses(db: MetadataDb, target: string, open: ProcessOpen): Promise<number[]> {
  expect(existsSync(dist(open.module)), 'the compiled adapter is missing: run `npm run build` first').toBe(true)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-queue-mp-'))
  try {
    const queue = new SqlJobQueue(db)
    for (let n = 0; n < 30; n++) await queue.enqueue({ kind: 'multi', payload: { n } })
    const script = path.join(dir, 'worker.mjs')
    await writeFile(script, workerScript(open))

    // The workers migrate on open too: all three at once.
    const children = ['w1', 'w2', 'w3'].map((id) => startWorker(script, target, id))
    await Promise.all(children.map((c) => c.ready))
    for (const child of children) child.go()
    const results = await Promise.all(children.map((c) => c.exited))

    for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 })
    const perWorker = results.map((r) => JSON.parse(r.stdout.split('\n').at(-2) ?? '[]') as number[])
    expect(perWorker.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n))
    const jobs = await queue.list({ kind: 'multi' })
    expect(jobs.map((j) => [j.state, j.attempts, j.token])).toEqual(Array.from({ length: 30 }, () => ['succeeded', 1, 1]))
    for (const [i, job] of jobs.entries()) {
      expect(perWorker[['w1', 'w2', 'w3'].indexOf(job.leaseOwner ?? '')]).toContain(i)
      expect(job.result).toEqual({ workerId: job.leaseOwner })
    }
    expect(await db.selectFrom('datasets').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()).toEqual({ n: 30 })
    return perWorker.map((d) => d.length)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
