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

const WORD_CHAR = /[\p{L}\p{N}]/u
/** ASCII letters and digits; every other code point below 128 is a separator. */
const ASCII_WORD = new Uint8Array(128)
for (let c = 0; c < 128; c++) ASCII_WORD[c] = /[A-Za-z0-9]/.test(String.fromCharCode(c)) ? 1 : 0
const nonAsciiWord = new Map<number, boolean>()

/** Whether code point `cp` is a letter or a number (`\p{L}` or `\p{N}`), cached for code points above ASCII. */
function isWordCodePoint(cp: number): boolean {
  if (cp < 128) return ASCII_WORD[cp] === 1
  let known = nonAsciiWord.get(cp)
  if (known === undefined) {
    known = WORD_CHAR.test(String.fromCodePoint(cp))
    if (nonAsciiWord.size < 65_536) nonAsciiWord.set(cp, known)
  }
  return known
}

/**
 * Calls `onToken` with each maximal run of letters and digits of `text` (the tokens of `/[\p{L}\p{N}]+/gu`, in
 * order) until it returns false. A scan over char codes: the regular expression's match arrays were a third of the
 * time of featurizing e-mail.
 */
export function forEachWord(text: string, onToken: (token: string) => boolean): void {
  const n = text.length
  let start = -1
  for (let i = 0; i < n; i++) {
    let cp = text.charCodeAt(i)
    let width = 1
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n) {
      const low = text.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00)
        width = 2
      }
    }
    if (isWordCodePoint(cp)) {
      if (start < 0) start = i
    } else if (start >= 0) {
      if (!onToken(text.slice(start, i))) return
      start = -1
    }
    i += width - 1
  }
  if (start >= 0) onToken(text.slice(start))
}

/** Returns the per-row emitter of a text feature over `column`. */
export function textEmitter(
  fitted: FittedText,
  column: ArrayLike<unknown>,
  hasher: SlotHasher,
  out: CsrBuilder,
): (row: number) => void {
  const prefix = hasher.prefix(fitted.name)
  let slots = new Uint32Array(256)
  const perToken = fitted.bigrams ? 2 : 1
  let n = 0
  let tokens = 0
  let previous: string | null = null
  const onToken = (token: string): boolean => {
    if (tokens >= fitted.maxTokens) return false
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
    return true
  }
  return (row) => {
    const raw = toCategory(column[row])
    if (raw === null) return
    n = 0
    tokens = 0
    previous = null
    forEachWord(fitted.lowercase ? raw.toLowerCase() : raw, onToken)
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
