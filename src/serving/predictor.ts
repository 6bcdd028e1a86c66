import { randomUUID } from 'node:crypto'
import { FreshetError } from '../core/errors.js'
import { transformRows } from '../features/transform.js'
import { validateInstance } from '../features/validate.js'
import type { Registry } from '../registry/registry.js'
import { manifestFormat, resolveTrainer, type ModelManifest } from '../training/run-training.js'
import type { ModelWeights, Trainer } from '../training/trainer.js'
import { deserializeWeights } from '../training/weights.js'

export interface Prediction {
  predictions: number[]
  modelVersion: number
  predictionIds: string[]
}

/**
 * One loaded model version, ready to score raw instances through the same feature transform as training.
 * Loading verifies the artifact's sha256 (see `Registry.load`); the artifact is read as data only.
 */
export class Predictor {
  private constructor(
    readonly pipeline: string,
    readonly version: number,
    readonly manifest: ModelManifest,
    private readonly trainer: Trainer,
    private readonly weights: ModelWeights,
  ) {}

  static async load(registry: Registry, pipeline: string, version: number, root: string): Promise<Predictor> {
    const { manifest, weights } = await registry.load(pipeline, version)
    return Predictor.fromArtifact(pipeline, version, manifest, weights, root)
  }

  /** A predictor over an artifact's two parts, already read and sha256-verified by the caller. */
  static async fromArtifact(pipeline: string, version: number, manifest: Record<string, unknown>, weights: Uint8Array, root: string): Promise<Predictor> {
    if (manifest.format !== manifestFormat) {
      throw new FreshetError('INTEGRITY_MISMATCH', `model ${pipeline} v${version} has manifest format ${JSON.stringify(manifest.format)}, not ${manifestFormat}`)
    }
    const typed = manifest as unknown as ModelManifest
    return new Predictor(pipeline, version, typed, await resolveTrainer(typed.trainer, root), deserializeWeights(weights))
  }

  /**
   * Scores instances (objects of raw feature values): probabilities for binary models, values for regression.
   * @throws FreshetError `INVALID_INSTANCE` naming the first bad instance index and field.
   */
  predict(instances: unknown): Prediction {
    if (!Array.isArray(instances) || instances.length === 0) {
      throw new FreshetError('INVALID_INSTANCE', `instances: expected a non-empty array of objects, got ${Array.isArray(instances) ? 'an empty array' : JSON.stringify(instances) ?? 'nothing'}`)
    }
    instances.forEach((instance, index) => {
      const problem = validateInstance(this.manifest.transform, instance, index)
      if (problem !== null) throw problem
    })
    const x = transformRows(this.manifest.transform, instances as Record<string, unknown>[])
    const scores = this.trainer.predict(this.weights, x)
    const now = Date.now()
    return {
      predictions: Array.from(scores),
      modelVersion: this.version,
      predictionIds: instances.map(() => predictionId(now)),
    }
  }
}

/**
 * A prediction id: a UUID with the version 7 layout (48-bit millisecond time, then 74 random bits), so ids sort by
 * time and the prediction log's index grows at its end instead of at random pages (random v4 ids made every
 * batch write touch a different index page per row).
 */
export function predictionId(now = Date.now()): string {
  const time = now.toString(16).padStart(12, '0')
  const random = randomUUID()
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`
}
