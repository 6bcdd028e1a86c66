import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempPlatform } from '../../test/support/workspace.js'
import { FreshetError } from '../core/errors.js'
import { deployVersion, parsePointInTime, rollbackProduction, rollbackTargets } from './deploys.js'
import type { AliasMove, NewModel, Registry } from './registry.js'

let registry: Registry
let dispose: () => Promise<void>

beforeEach(async () => {
  const temp = await tempPlatform({})
  registry = temp.platform.registry
  dispose = temp.dispose
  // v1..v4 pass their gate; v5 failed it.
  for (const tag of ['v1', 'v2', 'v3', 'v4', 'v5'])
    await registry.register(model(tag, tag === 'v5' ? 'rejected' : 'registered'))
})
afterEach(async () => dispose())

function model(tag: string, status: 'registered' | 'rejected'): NewModel {
  return {
    pipeline: 'p',
    task: 'binary',
    trainer: 'linear',
    manifest: { format: 'freshet-model/1', tag },
    weights: new TextEncoder().encode(tag),
    metrics: { auc: 0.9 },
    lineage: status === 'rejected' ? { gate: { passed: false, reasons: ['auc 0.61 is below min 0.8'] } } : {},
    status,
  }
}

async function failure(promise: Promise<unknown>): Promise<FreshetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(FreshetError)
  return error as FreshetError
}

const deploy = (
  version: number,
  extra: { reason?: string; force?: boolean; expected?: number | null; alias?: string } = {},
) =>
  deployVersion(registry, { pipeline: 'p', version, actor: 'alice', reason: `deploy v${version}`, ...extra })
const rollback = (extra: { to?: number; expected?: number; reason?: string } = {}) =>
  rollbackProduction(registry, { pipeline: 'p', actor: 'bob', reason: 'it regressed', ...extra })
const production = () => registry.alias('p', 'production')

describe('operator deploys', () => {
  it('moves production by compare-and-swap on the version read, recording who and why', async () => {
    const first = await deploy(1)
    expect(first).toMatchObject({ alias: 'production', from: null, to: 1, changed: true, forced: false })
    const second = await deploy(2)
    expect(second).toMatchObject({
      from: 1,
      to: 2,
      changed: true,
      move: { actor: 'alice', reason: 'deploy v2', fromVersion: 1, toVersion: 2 },
    })
    expect(await production()).toBe(2)
    // Deploying what is already there writes nothing.
    expect(await deploy(2)).toMatchObject({ changed: false, move: null })
    expect((await registry.history('p')).map((m) => m.toVersion)).toEqual([1, 2])
  })

  it('requires a reason for production, and a one-line bounded one', async () => {
    expect((await failure(deploy(1, { reason: '  ' }))).message).toContain(
      'a reason is required to move production',
    )
    expect((await failure(deploy(1, { reason: 'x'.repeat(501) }))).code).toBe('USAGE')
    expect((await failure(deploy(1, { reason: 'a\u001b[31m red' }))).message).toContain('control characters')
    // Another alias needs none.
    await deploy(3, { reason: '', alias: 'staging' })
    expect(await registry.aliases('p')).toEqual({ staging: 3 })
    expect((await registry.history('p'))[0]?.reason).toBe('deployed by alice')
  })

  it('deploys a version that failed its gate only with --force and a reason, both recorded', async () => {
    await deploy(1)
    const refused = await failure(deploy(5))
    expect(refused.code).toBe('MODEL_REJECTED')
    expect(refused.message).toBe(
      'p v5 failed its gate (auc 0.61 is below min 0.8) and is not deployed; nothing was changed',
    )
    expect(refused.hint).toContain('--force')
    expect((await failure(deploy(5, { force: true, reason: '' }))).code).toBe('USAGE')
    // Force is needed on every alias, not only production.
    expect((await failure(deploy(5, { alias: 'candidate' }))).code).toBe('MODEL_REJECTED')
    expect(await production()).toBe(1)

    const forced = await deploy(5, { force: true, reason: 'the holdout is broken this week' })
    expect(forced).toMatchObject({ forced: true, to: 5 })
    expect((await registry.history('p')).at(-1)).toMatchObject({
      toVersion: 5,
      actor: 'alice',
      reason: 'forced past its failed gate: the holdout is broken this week',
    })
  })

  it('lets exactly one of two concurrent deploys from the same version win; the other gets ALIAS_CONFLICT', async () => {
    await deploy(1)
    const results = await Promise.allSettled([deploy(2, { expected: 1 }), deploy(3, { expected: 1 })])
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as FreshetError] : []))
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]?.code).toBe('ALIAS_CONFLICT')
    expect(lost[0]?.message).toMatch(
      /^p\/production points at v[23], not v1 as expected; nothing was changed$/,
    )
    expect(await production()).toBe(won[0]?.to)
    expect(await registry.history('p')).toHaveLength(2)
  })

  it('refuses a stale expected version and an unknown version, changing nothing', async () => {
    await deploy(1)
    await deploy(2)
    expect((await failure(deploy(3, { expected: 1 }))).code).toBe('ALIAS_CONFLICT')
    // "Already there" is only a no-op when it is there.
    expect((await failure(deploy(1, { expected: 1 }))).code).toBe('ALIAS_CONFLICT')
    expect((await failure(deploy(9))).code).toBe('MODEL_NOT_FOUND')
    expect(await production()).toBe(2)
  })
})

describe('rollback', () => {
  it('goes back one deploy at a time, skipping versions that failed their gate, never to one it left', async () => {
    await deploy(1)
    await deploy(2)
    await deploy(5, { force: true, reason: 'hotfix' })
    await deploy(3)
    const first = await rollback()
    expect(first).toMatchObject({ from: 3, to: 2, move: { actor: 'bob', reason: 'rollback: it regressed' } })
    expect(await production()).toBe(2)
    expect(await rollback()).toMatchObject({ from: 2, to: 1 })
    const none = await failure(rollback())
    expect(none.code).toBe('MODEL_NOT_FOUND')
    expect(none.message).toContain('points at v1 and there is no earlier version that passed its gate')
    expect(await production()).toBe(1)
  })

  it('goes to --to when given, but not to the current version or one that failed its gate', async () => {
    await deploy(1)
    await deploy(2)
    expect((await failure(rollback({ to: 2 }))).message).toBe(
      'production of p already points at v2; nothing was changed',
    )
    const rejected = await failure(rollback({ to: 5 }))
    expect(rejected.code).toBe('MODEL_REJECTED')
    expect(rejected.hint).toContain('freshet deploy p 5 --force')
    expect((await failure(rollback({ to: 9 }))).code).toBe('MODEL_NOT_FOUND')
    expect(await rollback({ to: 4, reason: 'rollback to the March model' })).toMatchObject({
      from: 2,
      to: 4,
      move: { reason: 'rollback to the March model' },
    })
    expect(await production()).toBe(4)
  })

  it('needs a reason and a production model, and compares-and-swaps on the expected version', async () => {
    expect((await failure(rollback({ reason: '' }))).message).toContain('a reason is required to roll back')
    expect((await failure(rollback())).message).toBe(
      'p has no production model, so there is nothing to roll back; nothing was changed',
    )
    await deploy(1)
    await deploy(2)
    expect((await failure(rollback({ expected: 1 }))).code).toBe('ALIAS_CONFLICT')
    const results = await Promise.allSettled([rollback({ expected: 2 }), rollback({ expected: 2, to: 3 })])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.find((r) => r.status === 'rejected')?.reason).toMatchObject({ code: 'ALIAS_CONFLICT' })
  })
})

describe('rollbackTargets', () => {
  const moves = (...to: (number | null)[]): AliasMove[] =>
    to.map((v, i) => ({
      pipeline: 'p',
      alias: 'production',
      fromVersion: i === 0 ? null : (to[i - 1] ?? null),
      toVersion: v,
      actor: 'a',
      reason: 'r',
      at: '2025-01-01T00:00:00.000Z',
    }))

  it('replays the history as a stack, popping on a move back to a version below', () => {
    expect(rollbackTargets([])).toEqual([])
    expect(rollbackTargets(moves(1, 2, 3))).toEqual([1, 2, 3])
    expect(rollbackTargets(moves(1, 2, 3, 2))).toEqual([1, 2])
    expect(rollbackTargets(moves(1, 2, 3, 1, 4))).toEqual([1, 4])
    expect(rollbackTargets(moves(1, 2, null, 3))).toEqual([3])
    expect(rollbackTargets([...moves(1, 2), { ...moves(7)[0]!, alias: 'staging' }])).toEqual([1, 2])
  })
})

describe('parsePointInTime', () => {
  const now = Date.parse('2025-03-01T12:00:00Z')
  it('reads ISO times and durations ago, and names what it expected otherwise', () => {
    expect(parsePointInTime('2h', now).toISOString()).toBe('2025-03-01T10:00:00.000Z')
    expect(parsePointInTime('90s', now).toISOString()).toBe('2025-03-01T11:58:30.000Z')
    expect(parsePointInTime('2025-02-01T08:30:00Z', now).toISOString()).toBe('2025-02-01T08:30:00.000Z')
    expect(parsePointInTime('2025-02-01', now).toISOString()).toBe('2025-02-01T00:00:00.000Z')
    for (const bad of ['yesterday', '2h ago', '12345', '2025-13-45', '']) {
      expect(() => parsePointInTime(bad, now), bad).toThrow(
        /expected a time like 2025-03-01T10:00:00Z or a duration ago like 2h/,
      )
    }
  })
})
