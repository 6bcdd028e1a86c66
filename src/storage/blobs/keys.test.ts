import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../../core/errors.js'
import { maliciousBlobKeys, wellFormedBlobKeys } from './key-safety.contract.js'
import { validateBlobKey, validateBlobPrefix } from './keys.js'

/** The INVALID_KEY message for `key`, or 'accepted'. */
function verdict(check: (key: string) => string, key: string): string {
  try {
    check(key)
    return 'accepted'
  } catch (error) {
    if (isFreshetError(error, 'INVALID_KEY')) return error.message
    throw error
  }
}

describe('validateBlobKey', () => {
  it.each(wellFormedBlobKeys.map((key) => [key]))('accepts %j and returns it unchanged', (key) => {
    expect(validateBlobKey(key)).toBe(key)
  })

  it.each([
    ['', 'it is empty'],
    ['../etc/passwd', '".." segment'],
    ['a/./b', '"." segment'],
    ['a/%2e%2e/b', '".." segment'],
    ['a/%252e%252e/b', '".." segment'],
    ['a/%25252525252e%25252525252e/b', '".." segment'],
    ['a/．．/b', '".." segment'],
    ['a/\u2025/b', '".." segment'],
    ['a/％２ｅ％２ｅ/b', '".." segment'],
    ['a/%EF%BC%8E%EF%BC%8E/b', '".." segment'],
    ['a/%2e%2e/%zz', '".." segment'],
    ['a/%c0%ae%c0%ae/b', 'not valid UTF-8'],
    ['a/.../b', 'only of dots or spaces'],
    ['a/.. /b', 'only of dots or spaces'],
    ['a\\b', 'backslash'],
    ['a/..%5cb', 'backslash'],
    ['a/＼b', 'backslash'],
    ['/etc/passwd', 'absolute path'],
    ['%2fetc/passwd', 'absolute path'],
    ['C:/Windows', 'drive letter'],
    ['c:x', 'drive letter'],
    ['a\u0000b', 'control character'],
    ['a%00b', 'control character'],
    ['a\nb', 'control character'],
    ['a\u0085b', 'control character'],
    ['a\u202eb', 'invisible separator or direction'],
    ['a\ud800b', 'lone UTF-16 surrogate'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['.tmp/abc', 'reserved'],
    ['.TMP/abc', 'reserved'],
    ['%2etmp/abc', 'reserved'],
    ['.hidden', 'reserved'],
    [`a/${'x'.repeat(256)}`, 'segment longer than 255 bytes'],
    [`a/${'é'.repeat(128)}`, 'segment longer than 255 bytes'],
    [Array.from({ length: 9 }, () => 'é'.repeat(60)).join('/'), 'longer than 1024 bytes'],
  ])('rejects %j (%s)', (key, why) => {
    expect(verdict(validateBlobKey, key)).toContain(why)
  })

  it('names the key in its message and says what a key may be', () => {
    try {
      validateBlobKey('a/../b')
      expect.fail('accepted a/../b')
    } catch (error) {
      expect(isFreshetError(error, 'INVALID_KEY') && error.message).toContain('"a/../b"')
      expect(isFreshetError(error) && error.hint).toContain('relative paths')
    }
  })

  it('rejects every fuzzed traversal key, as a key and as a prefix', () => {
    const keys = maliciousBlobKeys(5000, 1)
    expect(keys).toHaveLength(5000)
    expect(keys.filter((key) => verdict(validateBlobKey, key) === 'accepted')).toEqual([])
    expect(keys.filter((key) => verdict(validateBlobPrefix, key) === 'accepted')).toEqual([])
  })
})

describe('validateBlobPrefix', () => {
  it('accepts the empty prefix, partial names and folders ending in one "/"', () => {
    for (const prefix of ['', 'data', 'datasets/emails/', 'datasets/emails/batc']) {
      expect(validateBlobPrefix(prefix)).toBe(prefix)
    }
  })

  it('rejects what a key would reject, and a double "/"', () => {
    for (const prefix of ['/', 'a//', '../', 'a/../', '.tmp/', '.tmp']) {
      expect(verdict(validateBlobPrefix, prefix)).not.toBe('accepted')
    }
  })
})
