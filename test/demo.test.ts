import { readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { delay, pollUntil, startCli, type CliProcess } from './support/processes.js'

// `npm start` is this command: the course's storage-triggered architecture on the real SpamAssassin corpus.
describe('freshet demo (npm start)', () => {
  let dir: string | undefined
  let demo: CliProcess | undefined
  afterAll(async () => {
    demo?.killGroup()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('replays the months into landing, each file is ingested, new data trains gated versions, and the latest one serves', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'freshet-demo-'))
    demo = startCli(['demo', '--dir', 'ws', '--port', '0', '--pace', '200ms'], { cwd: dir })
    const [, url, token] = await demo.waitForOutput(/dashboard: (http:\/\/127\.0\.0\.1:\d+) +\(Sign in with the token (\S+) /, 60_000)
    await demo.waitForOutput(/that was the last month/, 60_000)
    const landing = path.join(dir, 'ws', 'landing', 'emails')
    await pollUntil('19 processed month files', () => readdirSync(path.join(landing, '.processed')).filter((f) => f.endsWith('.jsonl')).length === 19, 60_000, 200)
    expect(readdirSync(landing).filter((f) => !f.startsWith('.'))).toEqual([])

    // The data trigger counts every accepted batch as it lands (and again each second): give it a beat, then
    // wait until the runs it queued are done.
    await delay(2500)
    type RunRow = { state: string; trigger: { type: string }; outcome: { modelVersion: number; deployed: boolean } | null }
    const runs = await pollUntil(
      'the runs of the replay to finish',
      async () => {
        const answer = (await (await fetch(`${url}/api/v1/pipelines/spam/runs`)).json()) as { runs: RunRow[] }
        const open = answer.runs.some((r) => r.state === 'queued' || r.state === 'running')
        return open ? undefined : answer.runs
      },
      120_000,
      500,
    )
    const dataset = (await (await fetch(`${url}/api/v1/datasets/emails`)).json()) as { batches: { state: string }[] }
    expect(dataset.batches.map((b) => b.state)).toEqual(Array(19).fill('accepted'))
    expect(runs.every((r) => r.state === 'succeeded' && r.trigger.type === 'data')).toBe(true)
    const deployed = runs.filter((r) => r.outcome?.deployed === true).map((r) => r.outcome?.modelVersion)
    expect(deployed.length).toBeGreaterThanOrEqual(2)
    expect(demo.output()).toMatch(/worker: run spam\/r_\w+ succeeded: v\d+ \(auc [\d.]+\) deployed, production/)

    const pipelines = (await (await fetch(`${url}/api/v1/pipelines`)).json()) as { pipelines: { name: string; production: number }[] }
    const production = pipelines.pipelines.find((p) => p.name === 'spam')?.production
    expect(production).toBe(Math.max(...deployed.map(Number)))
    const answer = await fetch(`${url}/v1/models/spam:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        instances: [
          { subject: 'WIN a FREE prize now', body: 'Click here to claim your cash prize, limited offer', from_domain: 'lucky.biz' },
          { subject: 'Re: patch for the build script', body: 'Thanks, I merged your patch into the tree; the tests pass now.', from_domain: 'example.org' },
        ],
      }),
    })
    const scored = (await answer.json()) as { predictions: number[]; modelVersion: number }
    expect(scored.modelVersion).toBe(production)
    expect(scored.predictions[0]).toBeGreaterThan(scored.predictions[1] ?? 1)

    // The printed token is the server's: it starts a run from the API (the dashboard's Train now), and nothing else does.
    const refused = await fetch(`${url}/api/v1/pipelines/spam/runs`, { method: 'POST' })
    expect(refused.status).toBe(401)
    const started = await fetch(`${url}/api/v1/pipelines/spam/runs`, { method: 'POST', headers: { authorization: `Bearer ${token ?? ''}`, 'content-type': 'application/json' }, body: '{"reason":"from the demo test"}' })
    expect(started.status).toBe(202)

    demo.signal('SIGINT')
    expect((await demo.exited).code).toBe(0)
  }, 300_000)
})
