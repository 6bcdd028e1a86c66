import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../core/random.js'
import { forEachWord } from './text.js'

const words = (text: string): string[] => {
  const out: string[] = []
  forEachWord(text, (token) => {
    out.push(token)
    return true
  })
  return out
}

describe('forEachWord', () => {
  it('finds exactly the tokens of /[\\p{L}\\p{N}]+/gu, also across scripts, marks, astral characters and lone surrogates', () => {
    const pieces = ['a', 'Z', '7', ' ', '-', "'", '\n', 'é', 'ß', 'Ω', 'ж', '中', '文', '٣', '४', '\u0301', '😀', '𝐀', '\ud800', '\udc00', '_', '.', '½', 'ǅ', '\u00a0']
    const random = mulberry32(7)
    for (let trial = 0; trial < 2000; trial++) {
      let text = ''
      const length = Math.floor(random() * 40)
      for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)]
      expect(words(text), JSON.stringify(text)).toEqual(text.match(/[\p{L}\p{N}]+/gu) ?? [])
    }
  })

  it('stops when told to', () => {
    const seen: string[] = []
    forEachWord('one two three four', (token) => {
      seen.push(token)
      return seen.length < 2
    })
    expect(seen).toEqual(['one', 'two'])
  })
})
