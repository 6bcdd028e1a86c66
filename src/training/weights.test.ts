import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../core/errors.js'
import type { ModelWeights } from './trainer.js'
import { deserializeWeights, serializeWeights } from './weights.js'

const weights: ModelWeights = {
  manifest: { trainer: 'linear', hashBits: 3, alpha: 0.1, note: 'ünïcode ✓', nested: { a: [1, 2] } },
  arrays: {
    z: Float64Array.from([1.5, -2, 0, Math.PI, -0, Number.MAX_VALUE, Number.MIN_VALUE, 1e-300]),
    odd: Float32Array.from([1, 2, 3]),
    empty: new Float64Array(0),
  },
}

function expectMalformed(bytes: Uint8Array, reason: RegExp): void {
  try {
    deserializeWeights(bytes)
    expect.unreachable()
  } catch (error) {
    expect(isFreshetError(error, 'INPUT_MALFORMED')).toBe(true)
    expect((error as Error).message).toMatch(reason)
  }
}

describe('serializeWeights / deserializeWeights', () => {
  it('round-trips the manifest and arrays exactly, keeping each array type', () => {
    const copy = deserializeWeights(serializeWeights(weights))
    expect(copy.manifest).toEqual(weights.manifest)
    expect(Object.keys(copy.arrays).sort()).toEqual(['empty', 'odd', 'z'])
    expect(copy.arrays.z).toBeInstanceOf(Float64Array)
    expect(copy.arrays.odd).toBeInstanceOf(Float32Array)
    expect(copy.arrays.z).toEqual(weights.arrays.z)
    expect(Object.is(copy.arrays.z![4], -0)).toBe(true)
    expect(copy.arrays.odd).toEqual(weights.arrays.odd)
  })

  it('is deterministic and aligns every array to 8 bytes', () => {
    const a = serializeWeights(weights)
    const b = serializeWeights({
      manifest: weights.manifest,
      arrays: { odd: weights.arrays.odd!, empty: weights.arrays.empty!, z: weights.arrays.z! },
    })
    expect(b).toEqual(a)
    expect(a.length % 8).toBe(0)
    const headerLength = new DataView(a.buffer).getUint32(12, true)
    const header = JSON.parse(new TextDecoder().decode(a.subarray(16, 16 + headerLength))) as {
      arrays: Array<{ offset: number }>
    }
    for (const entry of header.arrays) expect(entry.offset % 8).toBe(0)
  })

  it('reads bytes that sit at an unaligned offset inside a larger buffer', () => {
    const bytes = serializeWeights(weights)
    const padded = new Uint8Array(bytes.length + 3)
    padded.set(bytes, 3)
    expect(deserializeWeights(padded.subarray(3)).arrays.z).toEqual(weights.arrays.z)
  })

  it('refuses bytes that are not serialized weights, truncated, extended or inconsistent', () => {
    const bytes = serializeWeights(weights)
    expectMalformed(
      new TextEncoder().encode('{"manifest":{}}'),
      /do not start with the Freshet weights magic/,
    )
    expectMalformed(bytes.subarray(0, bytes.length - 8), /runs past the end/)
    const extended = new Uint8Array(bytes.length + 8)
    extended.set(bytes)
    expectMalformed(extended, /8 unexpected bytes at the end/)
    const badVersion = bytes.slice()
    badVersion[8] = 9
    expectMalformed(badVersion, /format 9 is not supported/)
    const badHeader = bytes.slice()
    badHeader[16] = 0x5b // '[' instead of '{'
    expectMalformed(badHeader, /header/)
  })
})
