import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from './durations.js'
import { parseSize } from './sizes.js'
import { didYouMean } from './names.js'

describe('durations, sizes and suggestions', () => {
  it('parses durations and sizes people write', () => {
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('7d')).toBe(7 * 86_400_000)
    expect(parseDuration('250ms')).toBe(250)
    expect(() => parseDuration('5 minutes')).toThrow(/expected a duration/)
    expect(parseSize('512MB')).toBe(512 * 1024 ** 2)
    expect(parseSize('2 GiB')).toBe(2 * 1024 ** 3)
    expect(formatDuration(125_000)).toBe('2m 05s')
  })

  it('suggests only close names', () => {
    expect(didYouMean('eventTme', ['eventTime', 'label', 'id'])).toBe('eventTime')
    expect(didYouMean('zzz', ['eventTime', 'label'])).toBeUndefined()
  })
})
