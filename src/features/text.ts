import type { FeatureSpec } from '../config/schema.js'
import type { SlotHasher } from './hashing.js'
import type { CsrBuilder } from './sparse.js'
import { toCategory } from './values.js'

type TextSpec = Extract<FeatureSpec, { type: 'text' }>

/** Token cap when a text feature sets none: bounds the work one huge document can cause. */
export const DEFAULT_MAX_TOKENS = 10_000

/**
 * A fitted text feature.
 *
 * Tokens are maximal runs of Unicode letters and digits (`/[\p{L}\p{N}]+/u`), lowercased by default, in document
 * order; only the first `maxTokens` are used. With `bigrams`, each pair of consecutive kept tokens is a token too
 * (`"free money"`). Each token is hashed in the feature's namespace; the value of a slot is `log(1 + count)` of the
 * tokens that hashed to it in the document (sublinear term frequency, Rennie et al. 2003), so a word repeated a
 * hundred times weighs about 4.6, not 100.
 */
export interface FittedText {
  name: string
  type: 'text'
  lowercase: boolean
  bigrams: boolean
  maxTokens: number
  documents: number
  missingCount: number
  /** Mean length in UTF-16 code units of the present documents. */
  meanLength: number
}

/** Fits a text feature: only options and cheap statistics (no vocabulary: tokens are hashed). */
export function fitText(
  name: string,
  spec: TextSpec,
  column: ArrayLike<unknown>,
  length: number,
): FittedText {
  let missingCount = 0
  let totalLength = 0
  for (let r = 0; r < length; r++) {
    const value = toCategory(column[r])
    if (value === null) missingCount++
    else totalLength += value.length
  }
  const documents = length - missingCount
  return {
    name,
    type: 'text',
    lowercase: spec.lowercase ?? true,
    bigrams: spec.bigrams ?? false,
    maxTokens: spec.maxTokens ?? DEFAULT_MAX_TOKENS,
    documents,
    missingCount,
    meanLength: documents > 0 ? totalLength / documents : 0,
  }
}

const WORD = /[\p{L}\p{N}]+/gu

/** Returns the per-row emitter of a text feature over `column`. */
export function textEmitter(
  fitted: FittedText,
  column: ArrayLike<unknown>,
  hasher: SlotHasher,
  out: CsrBuilder,
): (row: number) => void {
  const prefix = hasher.prefix(fitted.name)
  let slots = new Uint32Array(256)
  const word = new RegExp(WORD.source, WORD.flags)
  return (row) => {
    const raw = toCategory(column[row])
    if (raw === null) return
    const text = fitted.lowercase ? raw.toLowerCase() : raw
    const perToken = fitted.bigrams ? 2 : 1
    let n = 0
    let tokens = 0
    let previous: string | null = null
    word.lastIndex = 0
    for (let match = word.exec(text); match !== null && tokens < fitted.maxTokens; match = word.exec(text)) {
      const token = match[0]
      tokens++
      if (n + perToken > slots.length) {
        const grown = new Uint32Array(slots.length * 2)
        grown.set(slots)
        slots = grown
      }
      slots[n++] = hasher.slot(prefix, token)
      if (previous !== null && fitted.bigrams) {
        hasher.begin(prefix)
        hasher.appendString(previous)
        hasher.appendByte(0x20)
        hasher.appendString(token)
        slots[n++] = hasher.end()
      }
      previous = token
    }
    if (n === 0) return
    const used = slots.subarray(0, n).sort()
    let run = 1
    for (let i = 1; i <= n; i++) {
      if (i < n && used[i] === used[i - 1]) {
        run++
      } else {
        out.add(used[i - 1]!, Math.log1p(run))
        run = 1
      }
    }
  }
}
