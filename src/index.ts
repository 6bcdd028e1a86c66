/**
 * Freshet's public API. Everything a workspace config or a library user imports comes from here.
 */
export { defineConfig } from './config/define-config.js'
export { text, categorical, numeric, cross } from './features/helpers.js'
export type { FreshetConfig, FreshetConfigInput, DatasetSpec, PipelineSpec, FeatureSpec, TrainerSpec, ColumnType } from './config/schema.js'
export { loadConfig, validateConfig, configFromObject, type LoadedConfig } from './config/load.js'
export { FreshetError, isFreshetError, type ErrorCode } from './core/errors.js'
export type { BlobStore, BlobInfo, PutResult } from './storage/blobs/blob-store.js'
