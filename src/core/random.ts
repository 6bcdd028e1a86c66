/**
 * Mulberry32: a small, fast 32-bit PRNG. Deterministic for a seed, which is all shuffling and splits need
 * (not for anything secret).
 * @returns a function giving floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fisher–Yates shuffle of `values` in place with `random`. */
export function shuffleInPlace(values: Uint32Array, random: () => number): Uint32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = values[i]!
    values[i] = values[j]!
    values[j] = tmp
  }
  return values
}

/** 0, 1, ..., n - 1. */
export function identity(n: number): Uint32Array {
  const values = new Uint32Array(n)
  for (let i = 0; i < n; i++) values[i] = i
  return values
}
