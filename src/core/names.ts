import { FreshetError } from './errors.js'

/** Names of datasets, pipelines and topics: they appear in blob keys and URLs, so they are kept plain. */
export const namePattern = /^[a-z][a-z0-9_-]{0,62}$/

export function assertName(kind: string, name: string): string {
  if (!namePattern.test(name)) {
    throw new FreshetError(
      'USAGE',
      `${kind} name ${JSON.stringify(name)} is not allowed: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter`,
    )
  }
  return name
}

/** Levenshtein distance, for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j] ?? 0
      prev[j] = Math.min(above + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = above
    }
  }
  return prev[b.length] ?? 0
}

/** The closest candidate within a small edit distance, or undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}
