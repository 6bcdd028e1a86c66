import { describe, expect, it } from 'vitest'
import { murmur3, murmur3Bytes, Utf8Buffer } from './murmur3.js'

describe('murmur3', () => {
  // Published reference vectors of MurmurHash3_x86_32 (SMHasher); UTF-8 strings.
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['hello', 0, 0x248bfa47],
    ['abc', 0, 0xb3dd93fa],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aa', 0x9747b28c, 0x5d211726],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('hashes %j with seed %i to the reference value', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected)
  })

  it('encodes UTF-8 exactly like TextEncoder, including astral characters and lone surrogates', () => {
    const encoder = new TextEncoder()
    const samples = [
      'naïve café',
      '日本語テキスト',
      'emoji 🎉👍🏽',
      'lone \ud800 high',
      'lone \udc00 low',
      'end \ud83d',
      'x'.repeat(1000),
    ]
    for (const text of samples) {
      const bytes = encoder.encode(text)
      expect(murmur3(text, 42)).toBe(murmur3Bytes(bytes, 0, bytes.length, 42))
    }
  })

  it('hashes pieces appended to a buffer like the concatenated string', () => {
    const buffer = new Utf8Buffer()
    buffer.appendString('subject')
    buffer.appendByte(1)
    buffer.appendString('ünïcode')
    expect(buffer.hash(7)).toBe(murmur3('subject\u0001ünïcode', 7))
    buffer.reset()
    buffer.appendBytes(new TextEncoder().encode('a'))
    buffer.appendString('b')
    expect(buffer.hash(0)).toBe(murmur3('ab', 0))
  })
})
