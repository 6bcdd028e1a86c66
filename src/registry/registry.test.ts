import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { tempPlatform } from '../../test/support/workspace.js'
import type { Platform } from '../app/platform.js'
import { FreshetError } from '../core/errors.js'
import type { NewModel, Registry } from './registry.js'

let platform: Platform
let registry: Registry
let dispose: () => Promise<void>

beforeEach(async () => {
  ;({ platform, dispose } = await tempPlatform({}))
  registry = platform.registry
})
afterEach(async () => {
  await dispose()
})

/** A model whose manifest and weights are unique to `tag`, so no two share a content-addressed blob. */
function model(pipeline: string, tag: string): NewModel {
  const weights = new Uint8Array(64)
  for (let i = 0; i < weights.length; i++) weights[i] = (i * 31 + tag.charCodeAt(i % tag.length)) & 0xff
  return {
    pipeline,
    task: 'binary',
    trainer: 'linear',
    manifest: {
      format: 'freshet-model/1',
      tag,
      transform: { hashBits: 12, features: [{ name: 'amount', type: 'numeric', mean: 1.5 }] },
    },
    weights,
    metrics: { auc: 0.9 },
    lineage: { tag },
  }
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** What `promise` rejects with, which must be a FreshetError. */
async function failure(promise: Promise<unknown>): Promise<FreshetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(FreshetError)
  return error as FreshetError
}

const move = (version: number, expected: number | null, reason = `to v${version}`, alias = 'production') => ({
  pipeline: 'a',
  alias,
  version,
  expected,
  actor: 'alice',
  reason,
})

describe('registering versions', () => {
  it('numbers versions 1, 2, 3… independently per pipeline', async () => {
    const numbers: string[] = []
    for (const [pipeline, tag] of [
      ['a', 'a1'],
      ['a', 'a2'],
      ['b', 'b1'],
      ['a', 'a3'],
      ['b', 'b2'],
    ] as const) {
      const registered = await registry.register(model(pipeline, tag))
      numbers.push(`${pipeline}${registered.version}`)
    }
    expect(numbers).toEqual(['a1', 'a2', 'b1', 'a3', 'b2'])
    expect((await registry.versions('a')).map((v) => [v.version, v.lineage.tag])).toEqual([
      [1, 'a1'],
      [2, 'a2'],
      [3, 'a3'],
    ])
    expect((await registry.versions('b')).map((v) => v.version)).toEqual([1, 2])
    expect(await registry.versions('c')).toEqual([])
  })

  it('gives concurrent registrations distinct consecutive numbers', async () => {
    const registered = await Promise.all(
      ['c1', 'c2', 'c3', 'c4', 'c5'].map((tag) => registry.register(model('c', tag))),
    )
    expect(registered.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5])
  })

  it('round-trips the manifest and weights, pinned by their sha256', async () => {
    const input = model('a', 'round-trip')
    const registered = await registry.register({ ...input, status: 'rejected' })
    const loaded = await registry.load('a', registered.version)
    expect(loaded.manifest).toEqual(input.manifest)
    expect(Array.from(loaded.weights)).toEqual(Array.from(input.weights))
    expect(loaded.model).toEqual(registered)
    expect(registered).toMatchObject({
      status: 'rejected',
      task: 'binary',
      trainer: 'linear',
      metrics: { auc: 0.9 },
      weightsSha256: sha256(input.weights),
    })
    expect(registered.manifestSha256).toBe(sha256(await platform.blobs.get(registered.manifestKey)))
    expect(await registry.version('a', registered.version)).toEqual(registered)
  })

  it('says MODEL_NOT_FOUND for a version that does not exist', async () => {
    await registry.register(model('a', 'only'))
    const error = await failure(registry.load('a', 2))
    expect(error.code).toBe('MODEL_NOT_FOUND')
    expect(error.message).toContain('pipeline a has no model version 2')
    expect((await failure(registry.version('nope', 1))).code).toBe('MODEL_NOT_FOUND')
  })
})

describe('artifact integrity', () => {
  it('refuses weights with one byte flipped since registration, naming pipeline, version and part', async () => {
    await registry.register(model('a', 'first'))
    const registered = await registry.register(model('a', 'second'))
    const original = await platform.blobs.get(registered.weightsKey)
    const tampered = Uint8Array.from(original)
    tampered[17] = (tampered[17] as number) ^ 0x01
    await platform.blobs.put(registered.weightsKey, tampered)

    const error = await failure(registry.load('a', 2))
    expect(error.code).toBe('INTEGRITY_MISMATCH')
    expect(error.message).toMatch(/^model a v2: the weights do not match the sha256/)
    expect(error.httpStatus).toBe(500)
    // The other version is unaffected, and restoring the bytes makes it loadable again.
    await expect(registry.load('a', 1)).resolves.toMatchObject({ model: { version: 1 } })
    await platform.blobs.put(registered.weightsKey, original)
    await expect(registry.load('a', 2)).resolves.toMatchObject({ model: { version: 2 } })
  })

  it('refuses a manifest with one byte flipped, even when it is still valid JSON', async () => {
    const registered = await registry.register(model('a', 'manifest'))
    const original = await platform.blobs.get(registered.manifestKey)
    const text = new TextDecoder().decode(original)
    // "mean":1.5 -> "mean":1.4: still a valid manifest, so only the sha256 check can catch it.
    const at = text.indexOf('1.5') + 2
    expect(at).toBeGreaterThan(1)
    const tampered = Uint8Array.from(original)
    tampered[at] = (tampered[at] as number) ^ 0x01
    expect(() => JSON.parse(new TextDecoder().decode(tampered)) as unknown).not.toThrow()
    await platform.blobs.put(registered.manifestKey, tampered)

    const error = await failure(registry.load('a', 1))
    expect(error.code).toBe('INTEGRITY_MISMATCH')
    expect(error.message).toMatch(/^model a v1: the manifest does not match the sha256/)
  })
})

describe('aliases', () => {
  beforeEach(async () => {
    for (const tag of ['v1', 'v2', 'v3']) await registry.register(model('a', tag))
  })

  it('creates with expected null, moves with the right expected, and refuses a stale one changing nothing', async () => {
    expect(await registry.alias('a', 'production')).toBeUndefined()
    await registry.moveAlias(move(1, null))
    expect(await registry.alias('a', 'production')).toBe(1)
    await registry.moveAlias(move(2, 1))
    expect(await registry.alias('a', 'production')).toBe(2)
    const before = await registry.history('a')

    const stale = await failure(registry.moveAlias(move(3, 1)))
    expect(stale.code).toBe('ALIAS_CONFLICT')
    expect(stale.httpStatus).toBe(409)
    expect(stale.message).toContain('a/production points at v2, not v1 as expected')
    const exists = await failure(registry.moveAlias(move(3, null)))
    expect(exists.code).toBe('ALIAS_CONFLICT')

    expect(await registry.alias('a', 'production')).toBe(2)
    expect(await registry.history('a')).toEqual(before)
  })

  it('refuses a move from a version to an alias that does not exist yet', async () => {
    const error = await failure(registry.moveAlias(move(1, 1, 'x', 'staging')))
    expect(error.code).toBe('ALIAS_CONFLICT')
    expect(error.message).toContain('points at no version')
    expect(await registry.aliases('a')).toEqual({})
  })

  it('lets exactly one of two concurrent moves from the same expected version win', async () => {
    await registry.moveAlias(move(1, null))
    const results = await Promise.allSettled([
      registry.moveAlias(move(2, 1, 'race 2')),
      registry.moveAlias(move(3, 1, 'race 3')),
    ])
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r) => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]?.reason).toMatchObject({ code: 'ALIAS_CONFLICT' })
    const winner = won[0]?.value.toVersion
    expect(await registry.alias('a', 'production')).toBe(winner)
    // Only the winner is recorded (sorted: the two moves may share a millisecond, see the known bug below).
    const loser = winner === 2 ? 3 : 2
    const recorded = (await registry.history('a')).map((h) => h.toVersion)
    expect(recorded.sort()).toEqual([1, winner].sort())
    expect(recorded).not.toContain(loser)
  })

  it('lets exactly one of two concurrent creations win', async () => {
    const results = await Promise.allSettled([
      registry.moveAlias(move(1, null)),
      registry.moveAlias(move(2, null)),
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.find((r) => r.status === 'rejected')?.reason).toMatchObject({ code: 'ALIAS_CONFLICT' })
    expect(await registry.history('a')).toHaveLength(1)
  })

  it('records every move with when, actor, reason, from and to, oldest first', async () => {
    // A clock a minute apart per move: moves within one millisecond are the known bug below.
    const times = [
      '2025-03-01T10:00:00.000Z',
      '2025-03-01T10:01:00.000Z',
      '2025-03-01T10:02:00.000Z',
      '2025-03-01T10:03:00.000Z',
    ]
    const at = (i: number) => vi.setSystemTime(new Date(times[i] as string))
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      at(0)
      await registry.moveAlias({ ...move(1, null), actor: 'freshet train', reason: 'passed its gate' })
      at(1)
      await registry.moveAlias({ ...move(3, 1), actor: 'bob', reason: 'hotfix' })
      at(2)
      await registry.moveAlias({ ...move(2, null, 'canary', 'staging'), actor: 'carol' })
      at(3)
      await registry.moveAlias({ ...move(1, 3), actor: 'alice', reason: 'rollback: v3 regressed' })
    } finally {
      vi.useRealTimers()
    }
    const history = await registry.history('a')
    expect(history.map((h) => h.at)).toEqual(times)
    expect(
      history.map(({ alias, fromVersion, toVersion, actor, reason }) => ({
        alias,
        fromVersion,
        toVersion,
        actor,
        reason,
      })),
    ).toEqual([
      {
        alias: 'production',
        fromVersion: null,
        toVersion: 1,
        actor: 'freshet train',
        reason: 'passed its gate',
      },
      { alias: 'production', fromVersion: 1, toVersion: 3, actor: 'bob', reason: 'hotfix' },
      { alias: 'staging', fromVersion: null, toVersion: 2, actor: 'carol', reason: 'canary' },
      { alias: 'production', fromVersion: 3, toVersion: 1, actor: 'alice', reason: 'rollback: v3 regressed' },
    ])
    expect(await registry.aliases('a')).toEqual({ production: 1, staging: 2 })
    expect(await registry.history('b')).toEqual([])
  })

  // Moves within one millisecond (or across a clock step back) keep their order: history is ordered by seq.
  it(
    'keeps the history in the order of the moves when they happen within one millisecond',
    async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: new Date('2025-01-01T00:00:00Z') })
      try {
        await registry.moveAlias(move(2, null, 'first', 'staging'))
        await registry.moveAlias(move(1, null, 'second'))
        await registry.moveAlias(move(3, 1, 'third'))
      } finally {
        vi.useRealTimers()
      }
      expect((await registry.history('a')).map((h) => h.reason)).toEqual(['first', 'second', 'third'])
    },
  )

  it('serves a version that failed its gate only when forced, and records the reason', async () => {
    const rejected = await registry.register({ ...model('a', 'bad'), status: 'rejected' })
    expect(rejected.version).toBe(4)
    await registry.moveAlias(move(1, null))
    const refused = await failure(registry.moveAlias(move(4, 1)))
    expect(refused.code).toBe('MODEL_REJECTED')
    expect(await registry.alias('a', 'production')).toBe(1)
    await registry.moveAlias({ ...move(4, 1, 'hotfix: the gate metric is broken this week'), force: true })
    expect(await registry.alias('a', 'production')).toBe(4)
    expect((await registry.history('a')).at(-1)?.reason).toBe('hotfix: the gate metric is broken this week')
  })

  it('refuses to point an alias at a version that does not exist, changing nothing', async () => {
    await registry.moveAlias(move(1, null))
    const error = await failure(registry.moveAlias(move(4, 1)))
    expect(error.code).toBe('MODEL_NOT_FOUND')
    expect(error.message).toContain('pipeline a has no model version 4')
    expect((await failure(registry.moveAlias({ ...move(1, null), pipeline: 'b' }))).code).toBe(
      'MODEL_NOT_FOUND',
    )
    expect(await registry.alias('a', 'production')).toBe(1)
    expect(await registry.history('a')).toHaveLength(1)
    expect(await registry.aliases('b')).toEqual({})
  })
})

describe('which version an alias pointed at, at a time', () => {
  beforeEach(async () => {
    for (const tag of ['v1', 'v2', 'v3']) await registry.register(model('a', tag))
  })

  /** Runs `moves` with the clock at `time` (ISO), so every move of the call is recorded at that millisecond. */
  async function at(time: string, moves: () => Promise<unknown>): Promise<void> {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(time) })
    try {
      await moves()
    } finally {
      vi.useRealTimers()
    }
  }

  it('answers from the history: nothing before the first move, then each move from its own time on', async () => {
    await at('2025-03-01T10:00:00.000Z', () => registry.moveAlias(move(1, null)))
    await at('2025-03-01T11:00:00.000Z', () => registry.moveAlias(move(2, 1)))
    await at('2025-03-01T11:30:00.000Z', () => registry.moveAlias(move(3, null, 'try v3', 'staging')))
    await at('2025-03-01T12:00:00.000Z', () => registry.moveAlias(move(1, 2, 'rollback')))
    const version = (time: string, alias = 'production') => registry.aliasAt('a', alias, new Date(time))

    expect(await version('2025-03-01T09:59:59.999Z')).toBeUndefined()
    expect(await version('2025-03-01T10:00:00.000Z')).toBe(1)
    expect(await version('2025-03-01T10:59:59.999Z')).toBe(1)
    expect(await version('2025-03-01T11:00:00.000Z')).toBe(2)
    expect(await version('2025-03-01T11:45:00.000Z')).toBe(2)
    expect(await version('2025-03-01T12:00:00.000Z')).toBe(1)
    expect(await version('2030-01-01T00:00:00.000Z')).toBe(1)
    expect(await version('+275760-09-13T00:00:00.000Z')).toBe(1)
    expect(await version('2025-03-01T11:29:00.000Z', 'staging')).toBeUndefined()
    expect(await version('2025-03-01T11:30:00.000Z', 'staging')).toBe(3)
    expect(await registry.aliasAt('b', 'production', new Date('2030-01-01T00:00:00Z'))).toBeUndefined()

    // Every alias at once, production first, with the move that put it there.
    const at1145 = await registry.aliasesAt('a', new Date('2025-03-01T11:45:00Z'))
    expect(at1145.map((m) => [m.alias, m.toVersion, m.at, m.reason])).toEqual([
      ['production', 2, '2025-03-01T11:00:00.000Z', 'to v2'],
      ['staging', 3, '2025-03-01T11:30:00.000Z', 'try v3'],
    ])
    expect(await registry.aliasesAt('a', new Date('2025-03-01T09:00:00Z'))).toEqual([])
    expect((await registry.aliasHistory('a', 'production')).map((m) => m.toVersion)).toEqual([1, 2, 1])
  })

  it('answers with the last of several moves made in the same millisecond, in the order they were made', async () => {
    await at('2025-03-01T10:00:00.000Z', async () => {
      await registry.moveAlias(move(3, null))
      await registry.moveAlias(move(1, 3))
      await registry.moveAlias(move(2, 1))
    })
    await at('2025-03-01T10:00:00.001Z', async () => {
      await registry.moveAlias(move(3, 2))
      await registry.moveAlias(move(1, 3))
    })
    expect(await registry.aliasAt('a', 'production', new Date('2025-03-01T10:00:00.000Z'))).toBe(2)
    expect(await registry.aliasAt('a', 'production', new Date('2025-03-01T10:00:00.001Z'))).toBe(1)
    expect((await registry.aliasesAt('a', new Date('2025-03-01T10:00:00.000Z'))).map((m) => m.toVersion)).toEqual([2])
  })

  it('orders by the order of the moves, not their clock times, when the clock stepped back', async () => {
    await at('2025-03-01T10:05:00.000Z', () => registry.moveAlias(move(1, null)))
    // The clock stepped back two minutes before the next move.
    await at('2025-03-01T10:03:00.000Z', () => registry.moveAlias(move(2, 1)))
    expect(await registry.aliasAt('a', 'production', new Date('2025-03-01T10:10:00Z'))).toBe(2)
    expect(await registry.aliasAt('a', 'production', new Date('2025-03-01T10:04:00Z'))).toBe(2)
  })

  it('refuses an invalid time', async () => {
    const error = await failure(registry.aliasAt('a', 'production', new Date('not a time')))
    expect(error.code).toBe('USAGE')
  })
})
