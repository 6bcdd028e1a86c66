import * as z from 'zod'
import { didYouMean } from '../core/names.js'
import { isDuration } from '../core/durations.js'
import { isSize } from '../core/sizes.js'

/** A strict object whose unknown keys are errors with a did-you-mean from its own keys. */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape)
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined
      return issue.keys
        .map((key) => {
          const guess = didYouMean(key, known)
          return guess === undefined
            ? `unknown key ${JSON.stringify(key)} (known keys: ${known.join(', ')})`
            : `unknown key ${JSON.stringify(key)}, did you mean ${JSON.stringify(guess)}?`
        })
        .join('; ')
    },
  })
}

export const duration = z
  .string({ error: 'expected a duration like 30s, 5m, 2h or 7d' })
  .refine(isDuration, { error: 'expected a duration like 30s, 5m, 2h or 7d' })

export const size = z.union([z.number().int().positive(), z.string().refine(isSize)], {
  error: 'expected a size in bytes or a string like 512MB',
})

export function int(min: number, max: number) {
  return z.number({ error: `expected an integer from ${min} to ${max}` }).int({ error: `expected an integer from ${min} to ${max}` }).min(min, { error: `expected an integer from ${min} to ${max}` }).max(max, { error: `expected an integer from ${min} to ${max}` })
}

export function fraction(what = 'a number from 0 to 1') {
  return z.number({ error: `expected ${what}` }).min(0, { error: `expected ${what}` }).max(1, { error: `expected ${what}` })
}

export function positive(what = 'a positive number') {
  return z.number({ error: `expected ${what}` }).positive({ error: `expected ${what}` })
}

export function nonNegative(what = 'a number ≥ 0') {
  return z.number({ error: `expected ${what}` }).min(0, { error: `expected ${what}` })
}

export const columnName = z.string({ error: 'expected a column name' }).min(1, { error: 'expected a column name' })
