import type { FeatureSpec } from '../config/schema.js'

type Options<T extends FeatureSpec['type']> = Omit<Extract<FeatureSpec, { type: T }>, 'type'>

/** A free-text column: lowercased, split into Unicode words, hashed (optionally with bigrams). */
export function text(options: Options<'text'> = {}): Extract<FeatureSpec, { type: 'text' }> {
  return { type: 'text', ...options }
}

/** A categorical column: each value hashed into its own slot. */
export function categorical(options: Options<'categorical'> = {}): Extract<FeatureSpec, { type: 'categorical' }> {
  return { type: 'categorical', ...options }
}

/** A numeric column: standardized (default), log1p or raw, optionally bucketized, with a missing indicator. */
export function numeric(options: Options<'numeric'> = {}): Extract<FeatureSpec, { type: 'numeric' }> {
  return { type: 'numeric', ...options }
}

/** A cross of two or more columns' values, hashed together. */
export function cross(columns: string[]): Extract<FeatureSpec, { type: 'cross' }> {
  return { type: 'cross', columns }
}
