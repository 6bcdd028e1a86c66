import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeployOutcome } from '../src/registry/deploys.js'
import { runCli } from './support/cli.js'
import {
  fixtureConfig,
  registerCopy,
  trainedWorkspace,
  type TrainedWorkspace,
} from './support/trained-model.js'

let ws: TrainedWorkspace
/** Versions 2 and 4 are copies of the trained v1 that passed their gate; v3 failed its gate. */
const rejectedVersion = 3
/** Before any operator move: production is the trained v1. */
let beforeDeploys: Date
/** Just after `deploy p 2`. */
let afterDeploy2: Date

const cli = (...args: string[]) => runCli(args, { cwd: ws.dir, env: { FRESHET_ACTOR: 'alice' } })
const production = () => ws.platform.registry.alias('p', 'production')
const lastMove = async () => (await ws.platform.registry.history('p')).at(-1)

beforeAll(async () => {
  ws = await trainedWorkspace()
  // The CLI reads the same workspace as the test's open platform.
  await writeFile(path.join(ws.dir, 'freshet.config.json'), JSON.stringify(fixtureConfig))
  expect(await registerCopy(ws.platform, 1)).toBe(2)
  const { model, manifest, weights } = await ws.platform.registry.load('p', 1)
  const rejected = await ws.platform.registry.register({
    pipeline: 'p',
    task: model.task,
    trainer: model.trainer,
    manifest,
    weights,
    metrics: { ...model.metrics, auc: 0.51 },
    lineage: { gate: { passed: false, reasons: ['auc 0.5100 is below min 0.9'] } },
    status: 'rejected',
  })
  expect(rejected.version).toBe(rejectedVersion)
  expect(await registerCopy(ws.platform, 1)).toBe(4)
  beforeDeploys = new Date()
}, 120_000)
afterAll(async () => ws?.dispose())

describe('freshet deploy', () => {
  it('moves production only with a reason, by the operator, recorded; deploying the current version changes nothing', async () => {
    const noReason = await cli('deploy', 'p', '2')
    expect(noReason.code).toBe(2)
    expect(noReason.stderr).toContain('a reason is required to move production; nothing was changed')
    expect(noReason.stderr).toContain('--reason')
    expect(await production()).toBe(1)

    const deployed = await cli('deploy', 'p', 'v2', '--reason', 'better on the March data', '--json')
    expect(deployed.code, deployed.stderr).toBe(0)
    expect(JSON.parse(deployed.stdout) as DeployOutcome).toMatchObject({
      pipeline: 'p',
      alias: 'production',
      from: 1,
      to: 2,
      changed: true,
      forced: false,
    })
    afterDeploy2 = new Date()
    expect(await production()).toBe(2)
    expect(await lastMove()).toMatchObject({
      alias: 'production',
      fromVersion: 1,
      toVersion: 2,
      actor: 'alice',
      reason: 'better on the March data',
    })

    const again = await cli('deploy', 'p', '2', '--reason', 'again')
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe('production of p already points at v2; nothing was changed\n')
    expect((await ws.platform.registry.history('p')).length).toBe(2)

    const missing = await cli('deploy', 'p', '9', '--reason', 'x')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('pipeline p has no model version 9')
    expect((await cli('deploy', 'p', 'latest', '--reason', 'x')).code).toBe(2)
  })

  it('deploys a version that failed its gate only with --force and a reason, and records both', async () => {
    const refused = await cli('deploy', 'p', String(rejectedVersion), '--reason', 'try it')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      'p v3 failed its gate (auc 0.5100 is below min 0.9) and is not deployed; nothing was changed',
    )
    expect(refused.stderr).toContain('--force')
    const forceWithoutReason = await cli('deploy', 'p', String(rejectedVersion), '--force')
    expect(forceWithoutReason.code).toBe(2)
    expect(await production()).toBe(2)

    const forced = await cli(
      'deploy',
      'p',
      String(rejectedVersion),
      '--force',
      '--reason',
      'the holdout is broken this week',
    )
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout).toBe(
      'production of p: v2 -> v3 (forced past its failed gate), by alice: forced past its failed gate: the holdout is broken this week\n',
    )
    expect(await lastMove()).toMatchObject({
      toVersion: 3,
      actor: 'alice',
      reason: 'forced past its failed gate: the holdout is broken this week',
    })

    expect((await cli('deploy', 'p', '4', '--reason', 'fixed model')).code).toBe(0)
    expect(await production()).toBe(4)
  })
})

describe('freshet rollback', () => {
  it('goes back through the alias history, skipping the version that failed its gate, with a required reason', async () => {
    const noReason = await cli('rollback', 'p')
    expect(noReason.code).toBe(2)
    expect(noReason.stderr).toContain('a reason is required to roll back')

    const first = await cli('rollback', 'p', '--reason', 'v4 answers slowly', '--json')
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout) as DeployOutcome).toMatchObject({ from: 4, to: 2, changed: true })
    expect(await lastMove()).toMatchObject({
      fromVersion: 4,
      toVersion: 2,
      actor: 'alice',
      reason: 'rollback: v4 answers slowly',
    })

    const second = await cli('rollback', 'p', '--reason', 'v2 too')
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toBe('production of p: v2 -> v1, by alice: rollback: v2 too\n')

    const none = await cli('rollback', 'p', '--reason', 'more')
    expect(none.code).toBe(1)
    expect(none.stderr).toContain(
      'production of p points at v1 and there is no earlier version that passed its gate to roll back to',
    )
    expect(none.stderr).toContain('--to')

    const rejected = await cli('rollback', 'p', '--to', String(rejectedVersion), '--reason', 'x')
    expect(rejected.code).toBe(1)
    expect(rejected.stderr).toContain('not a rollback target')

    const to = await cli('rollback', 'p', '--to', '4', '--reason', 'v1 is worse after all')
    expect(to.code, to.stderr).toBe(0)
    expect(await production()).toBe(4)
  })
})

describe('freshet models --at', () => {
  interface AtJson {
    at: string
    aliases: Record<string, number>
    moves: { alias: string; toVersion: number; actor: string; reason: string }[]
  }

  it('answers which version production pointed at, at a time, from the alias history', async () => {
    const at = async (time: string) => {
      const result = await cli('models', 'p', '--at', time, '--json')
      expect(result.code, result.stderr).toBe(0)
      return JSON.parse(result.stdout) as AtJson
    }
    expect((await at(beforeDeploys.toISOString())).aliases).toEqual({ production: 1 })
    const after2 = await at(afterDeploy2.toISOString())
    expect(after2.aliases).toEqual({ production: 2 })
    expect(after2.moves[0]).toMatchObject({
      alias: 'production',
      toVersion: 2,
      actor: 'alice',
      reason: 'better on the March data',
    })
    expect((await at('0s')).aliases).toEqual({ production: 4 })

    // An hour ago the workspace did not exist.
    const before = await cli('models', 'p', '--at', '1h')
    expect(before.code, before.stderr).toBe(0)
    expect(before.stdout).toMatch(/^no alias of p pointed at a model version at \d{4}-/)

    const table = await cli('models', 'p', '--at', afterDeploy2.toISOString())
    expect(table.stdout).toMatch(
      /^aliases of p at .*\nalias\s+version\s+since\s+by\s+reason\n[- ]+\nproduction\s+v2\s+\S+\s+alice\s+better on the March data\n$/,
    )

    const bad = await cli('models', 'p', '--at', 'yesterday')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(
      'expected a time like 2025-03-01T10:00:00Z or a duration ago like 2h or 7d, got "yesterday"',
    )
  })
})

describe('concurrent deploys', () => {
  it('of two deploy processes expecting the same current version, one wins and the other is told ALIAS_CONFLICT', async () => {
    expect(await production()).toBe(4)
    const before = (await ws.platform.registry.history('p')).length
    const [a, b] = await Promise.all([
      cli('deploy', 'p', '1', '--expect', '4', '--reason', 'race a'),
      cli('deploy', 'p', '2', '--expect', '4', '--reason', 'race b'),
    ])
    const results = [
      { version: 1, ...a },
      { version: 2, ...b },
    ]
    const won = results.filter((r) => r.code === 0)
    const lost = results.filter((r) => r.code !== 0)
    expect(won, JSON.stringify(results)).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]?.code).toBe(1)
    expect(lost[0]?.stderr).toContain(
      `p/production points at v${won[0]?.version}, not v4 as expected; nothing was changed`,
    )
    expect(lost[0]?.stderr).toContain('someone else moved it')
    expect(await production()).toBe(won[0]?.version)
    const history = await ws.platform.registry.history('p')
    expect(history).toHaveLength(before + 1)
    expect(history.at(-1)).toMatchObject({ fromVersion: 4, toVersion: won[0]?.version })
  })

  it('deploy --canary serves a version to a share of traffic; rollback stops the canary and production keeps serving', async () => {
    const current = await production()
    const other = current === 2 ? 4 : 2
    const started = await cli('deploy', 'p', String(other), '--canary', '20', '--bake', '1h', '--reason', 'try it on a fifth of traffic')
    expect(started.code, started.stderr).toBe(0)
    expect(started.stdout).toContain(`canary of p: v${other} serves 20% of traffic until`)
    expect(await ws.platform.registry.alias('p', 'candidate')).toBe(other)
    expect((await cli('deploy', 'p', String(other), '--canary', '150', '--reason', 'x')).stderr).toContain('--canary: expected a percent above 0 and below 100')

    const stopped = await cli('rollback', 'p', '--reason', 'error rate went up')
    expect(stopped.code, stopped.stderr).toBe(0)
    expect(stopped.stdout).toContain(`canary of p v${other} rolled back: all traffic goes to production v${current} again`)
    expect(await production()).toBe(current)
    expect(await ws.platform.registry.alias('p', 'candidate')).toBe(current)
    expect((await lastMove())?.reason).toContain('error rate went up')
  })

  it('nothing deleted an artifact: every version, deployed, rolled back from or rejected, still loads', async () => {
    const versions = await ws.platform.registry.versions('p')
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4])
    for (const v of versions)
      await expect(ws.platform.registry.load('p', v.version)).resolves.toMatchObject({
        model: { version: v.version },
      })
  })
})
