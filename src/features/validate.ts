import { FreshetError } from '../core/errors.js'
import type { FittedTransform } from './transform.js'

type Expected = 'number' | 'string' | 'scalar'

/**
 * Checks one serving instance (a parsed JSON value) against the columns a fitted transform reads, before it is
 * transformed. Serving is stricter than training data, so a client's mistake is an error, not a silent missing
 * value:
 * - the instance must be an object, and every column a feature reads must be present (send `null` for an unknown
 *   value: it is then a missing value, exactly as in training);
 * - numeric columns take a number, a boolean (1/0, as in training) or null; a numeric string such as `"3.5"`
 *   is rejected, because training data is typed and a string there is almost always a client bug;
 * - text columns take a string or null; categorical and crossed columns a string, number, boolean or null.
 * Other fields are ignored.
 *
 * @param index the instance's position in the request, for the message (`instances[3].distance: ...`).
 * @returns null when the instance is valid, else a FreshetError `INVALID_INSTANCE` (HTTP 400) naming the instance
 *   and the field.
 */
export function validateInstance(
  fitted: FittedTransform,
  instance: unknown,
  index: number,
): FreshetError | null {
  const where = `instances[${index}]`
  if (typeof instance !== 'object' || instance === null || Array.isArray(instance)) {
    return new FreshetError(
      'INVALID_INSTANCE',
      `${where}: expected an object of feature values, got ${describe(instance)}`,
    )
  }
  const record = instance as Record<string, unknown>
  for (const [column, expected] of expectedTypes(fitted)) {
    const field = `${where}${fieldPath(column)}`
    const value = Object.hasOwn(record, column) ? record[column] : undefined
    if (value === undefined) {
      return new FreshetError('INVALID_INSTANCE', `${field}: missing; send null when the value is unknown`, {
        column,
      })
    }
    if (value === null) continue
    const ok =
      expected === 'number'
        ? (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean'
        : expected === 'string'
          ? typeof value === 'string'
          : typeof value === 'string' ||
            typeof value === 'boolean' ||
            (typeof value === 'number' && Number.isFinite(value))
    if (!ok) {
      const wanted =
        expected === 'number'
          ? 'a number'
          : expected === 'string'
            ? 'a string'
            : 'a string, number or boolean'
      return new FreshetError('INVALID_INSTANCE', `${field}: expected ${wanted}, got ${describe(value)}`, {
        column,
      })
    }
  }
  return null
}

const expectations = new WeakMap<FittedTransform, Map<string, Expected>>()

/** Column -> expected JSON type; a column a numeric or text feature reads keeps that type even if also crossed. */
function expectedTypes(fitted: FittedTransform): Map<string, Expected> {
  const cached = expectations.get(fitted)
  if (cached !== undefined) return cached
  const types = new Map<string, Expected>()
  for (const feature of fitted.features) {
    if (feature.type === 'numeric') types.set(feature.name, 'number')
    else if (feature.type === 'text') types.set(feature.name, 'string')
    else if (feature.type === 'categorical') types.set(feature.name, types.get(feature.name) ?? 'scalar')
  }
  for (const feature of fitted.features) {
    if (feature.type === 'cross') for (const c of feature.columns) if (!types.has(c)) types.set(c, 'scalar')
  }
  expectations.set(fitted, types)
  return types
}

function fieldPath(column: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(column) ? `.${column}` : `[${JSON.stringify(column)}]`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  return typeof value
}
