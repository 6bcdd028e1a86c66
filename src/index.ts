/**
 * Freshet's public API. Everything a workspace config, a custom trainer or a library user imports comes from here.
 */
export { defineConfig } from './config/define-config.js'
export { text, categorical, numeric, cross } from './features/helpers.js'
export type { FreshetConfig, FreshetConfigInput, DatasetSpec, PipelineSpec, FeatureSpec, TrainerSpec, ColumnType } from './config/schema.js'
export { loadConfig, validateConfig, configFromObject, type LoadedConfig } from './config/load.js'
export { FreshetError, isFreshetError, type ErrorCode } from './core/errors.js'
export { openPlatform, type Platform } from './app/platform.js'
export { ingestFile, type IngestResult } from './data/ingest.js'
export { datasetOverview, type DatasetOverview } from './data/overview.js'
export type { ColumnStatistics } from './data/statistics.js'
export type { BlobStore, BlobInfo, PutResult } from './storage/blobs/blob-store.js'
export type { Trainer, TrainingData, ModelWeights, FitOptions, TrainingProgress, Task } from './training/trainer.js'
export type { SparseMatrix } from './features/sparse.js'
export { createTrainer } from './training/built-ins.js'
export { trainAndRegister, type TrainOutcome } from './training/train.js'
export { Predictor, type Prediction } from './serving/predictor.js'
export type { ModelVersion, AliasMove } from './registry/registry.js'
