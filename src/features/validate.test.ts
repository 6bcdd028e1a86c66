import { describe, expect, it } from 'vitest'
import { categorical, cross, numeric, text } from './helpers.js'
import { fitTransform } from './transform.js'
import { validateInstance } from './validate.js'

const fitted = fitTransform(
  {
    distance: numeric(),
    carrier: categorical(),
    subject: text(),
    route: cross(['origin', 'dest']),
    'dep hour': numeric(),
  },
  {
    length: 1,
    columns: {
      distance: [1],
      carrier: ['UA'],
      subject: ['hi'],
      origin: ['SFO'],
      dest: ['JFK'],
      'dep hour': [9],
    },
  },
  { hashBits: 12 },
)
const valid = { distance: 12.5, carrier: 'UA', subject: 'hello', origin: 'SFO', dest: 7, 'dep hour': 9 }

function message(instance: unknown, index = 3): string | undefined {
  return validateInstance(fitted, instance, index)?.message
}

describe('validateInstance', () => {
  it('accepts well-typed instances, nulls for unknown values and extra fields', () => {
    expect(message(valid)).toBeUndefined()
    expect(
      message({
        distance: null,
        carrier: null,
        subject: null,
        origin: true,
        dest: null,
        'dep hour': false,
        extra: {},
      }),
    ).toBeUndefined()
  })

  it('names the instance index and the field of an ill-typed value', () => {
    expect(message({ ...valid, distance: 'abc' })).toBe('instances[3].distance: expected a number, got "abc"')
    expect(message({ ...valid, distance: '3.5' })).toBe('instances[3].distance: expected a number, got "3.5"')
    expect(message({ ...valid, subject: 42 }, 0)).toBe('instances[0].subject: expected a string, got 42')
    expect(message({ ...valid, carrier: ['UA'] })).toBe(
      'instances[3].carrier: expected a string, number or boolean, got an array',
    )
    expect(message({ ...valid, origin: { code: 'SFO' } })).toBe(
      'instances[3].origin: expected a string, number or boolean, got an object',
    )
    expect(message({ ...valid, 'dep hour': '9' })).toBe(
      'instances[3]["dep hour"]: expected a number, got "9"',
    )
  })

  it('reports a missing field and tells how to send an unknown value', () => {
    const { dest: _dest, ...withoutDest } = valid
    const error = validateInstance(fitted, withoutDest, 5)
    expect(error?.code).toBe('INVALID_INSTANCE')
    expect(error?.column).toBe('dest')
    expect(error?.message).toBe('instances[5].dest: missing; send null when the value is unknown')
  })

  it('rejects an instance that is not an object', () => {
    expect(message([1, 2], 1)).toBe('instances[1]: expected an object of feature values, got an array')
    expect(message('x'.repeat(100), 2)).toMatch(
      /^instances\[2\]: expected an object of feature values, got "x{40}…"$/,
    )
    expect(message(null, 0)).toBe('instances[0]: expected an object of feature values, got null')
  })
})
