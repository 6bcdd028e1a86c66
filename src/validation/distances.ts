/**
 * Distances between two distributions of one column: the accepted (reference) data and a new (candidate) batch.
 * Inputs are counts, not probabilities; each side is normalised by its own total. Every function returns `NaN`
 * when either side has nothing to compare (no values, or all counts 0), so a threshold test `d > t` is false.
 */

/**
 * L-infinity distance between two categorical distributions: the largest difference in probability of any one
 * value, `max_v |p(v) - q(v)|`, as TFDV computes it for categorical drift and skew. A value absent on one side has
 * probability 0 there.
 *
 * Range [0, 1]: 0 for identical distributions, 1 for disjoint ones with one value each. Easy to read ("the share
 * of `JFK` moved by 0.3") but blind to many small moves. Typical threshold: 0.1 (TFDV's examples use 0.01–0.1).
 *
 * @param p reference counts per value.
 * @param q candidate counts per value.
 * @returns the distance, or `NaN` when either side has no counts.
 * @throws RangeError when a count is negative or not finite.
 * @example linfDistance(new Map([['a', 1], ['b', 1]]), new Map([['a', 3], ['c', 1]])) // 0.5 (at `b`)
 */
export function linfDistance(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number {
  const pTotal = mapTotal(p, 'p')
  const qTotal = mapTotal(q, 'q')
  if (pTotal === 0 || qTotal === 0) return Number.NaN
  let max = 0
  for (const [value, count] of p) {
    const d = Math.abs(count / pTotal - (q.get(value) ?? 0) / qTotal)
    if (d > max) max = d
  }
  for (const [value, count] of q) {
    if (!p.has(value) && count / qTotal > max) max = count / qTotal
  }
  return max
}

/**
 * Jensen-Shannon divergence of two histograms over the same bins, in bits:
 * `JS(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M)` with `M = ½ (P + Q)` and `log2`. Unlike KL it is symmetric and finite
 * when a bin is empty on one side, so it needs no smoothing.
 *
 * Range [0, 1]: 0 for identical histograms, 1 for histograms with no bin in common. TFDV uses it for numeric
 * drift. Typical threshold: 0.1. Both histograms must use the same bin edges (see `numericHistograms`).
 *
 * @returns the divergence, or `NaN` when either side has no counts.
 * @throws RangeError when the lengths differ or a count is negative or not finite.
 * @example jensenShannon([1, 0], [0, 1]) // 1
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const [pn, qn] = normalisePair(p, q)
  if (pn === undefined || qn === undefined) return Number.NaN
  let sum = 0
  for (let i = 0; i < pn.length; i++) {
    const a = pn[i]!
    const b = qn[i]!
    const m = (a + b) / 2
    if (a > 0) sum += a * Math.log2(a / m)
    if (b > 0) sum += b * Math.log2(b / m)
  }
  // Rounding can leave the sum a hair outside [0, 2].
  return Math.min(1, Math.max(0, sum / 2))
}

/**
 * Population Stability Index of a candidate histogram `q` against a reference `p` over the same bins:
 * `PSI = Σ (q_i - p_i) ln(q_i / p_i)` on proportions (natural log), where an empty bin's proportion is replaced by
 * `epsilon` so the logarithm stays finite. It is the symmetrised KL divergence, common in credit scoring.
 *
 * Range [0, ∞): 0 for identical histograms; the value a bin empty on one side contributes grows with
 * `ln(1 / epsilon)`. Usual reading: below 0.1 no significant shift, 0.1–0.25 a small shift, above 0.25 a large
 * shift.
 *
 * @param p reference counts per bin.
 * @param q candidate counts per bin.
 * @param epsilon proportion that stands in for an empty bin; default 1e-4.
 * @returns the index, or `NaN` when either side has no counts.
 * @throws RangeError when the lengths differ, a count is negative or not finite, or `epsilon` is not in (0, 1).
 * @example psi([50, 50], [25, 75]) // 0.2747: a large shift
 */
export function psi(p: ArrayLike<number>, q: ArrayLike<number>, epsilon = 1e-4): number {
  if (!(epsilon > 0 && epsilon < 1)) throw new RangeError(`psi: epsilon must be in (0, 1), got ${epsilon}`)
  const [pn, qn] = normalisePair(p, q)
  if (pn === undefined || qn === undefined) return Number.NaN
  let sum = 0
  for (let i = 0; i < pn.length; i++) {
    const a = pn[i]! > 0 ? pn[i]! : epsilon
    const b = qn[i]! > 0 ? qn[i]! : epsilon
    sum += (b - a) * Math.log(b / a)
  }
  return sum
}

/** Both histograms as proportions, or `undefined` for a side whose total is 0. */
function normalisePair(
  p: ArrayLike<number>,
  q: ArrayLike<number>,
): [Float64Array | undefined, Float64Array | undefined] {
  if (p.length !== q.length) {
    throw new RangeError(`the histograms have different numbers of bins: ${p.length} and ${q.length}`)
  }
  return [normalise(p, 'p'), normalise(q, 'q')]
}

function normalise(counts: ArrayLike<number>, side: string): Float64Array | undefined {
  const out = new Float64Array(counts.length)
  let total = 0
  for (let i = 0; i < counts.length; i++) {
    const c = checkedCount(counts[i]!, side, String(i))
    out[i] = c
    total += c
  }
  if (total === 0) return undefined
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / total
  return out
}

function mapTotal(counts: ReadonlyMap<string, number>, side: string): number {
  let total = 0
  for (const [value, count] of counts) total += checkedCount(count, side, JSON.stringify(value))
  return total
}

function checkedCount(count: number, side: string, where: string): number {
  if (!(count >= 0 && count < Number.POSITIVE_INFINITY)) {
    throw new RangeError(`${side}[${where}] is ${count}; counts must be finite and non-negative`)
  }
  return count
}
