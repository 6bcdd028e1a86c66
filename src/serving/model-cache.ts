import { FreshetError } from '../core/errors.js'
import { murmur3 } from '../features/murmur3.js'
import type { Registry } from '../registry/registry.js'
import { Predictor } from './predictor.js'

/** What serving needs to know of a pipeline's active canary. */
export interface CanaryRoute {
  readonly version: number
  /** Share of requests, 0-100. */
  readonly percent: number
}

interface Entry {
  predictor: Predictor | undefined
  canary: { predictor: Predictor; percent: number } | undefined
  checkedAt: number
  loading: Promise<Predictor | undefined> | undefined
}

/**
 * The models a server serves: each pipeline's `production` alias, and its active canary when `canaryOf` says
 * there is one, loaded once and re-checked at most every `refreshMs` (default 500 ms in serving, so a move is served within 1 s). A new version is loaded beside
 * the old one and swapped in when ready, so requests in flight finish on the model they started with and none
 * fail during the swap. A canary that cannot be loaded is reported and not served: production takes its share.
 */
export class ModelCache {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly registry: Registry,
    private readonly root: string,
    private readonly refreshMs = 1000,
    private readonly onError: (pipeline: string, error: unknown) => void = () => undefined,
    private readonly canaryOf: (pipeline: string) => Promise<CanaryRoute | undefined> = () => Promise.resolve(undefined),
  ) {}

  /**
   * The model that serves one request: the canary for its share of requests, production otherwise. With a
   * request `key` the choice is sticky (a hash of the key and the canary version picks the bucket), without one
   * it is random.
   * @throws FreshetError `MODEL_NOT_FOUND` when the pipeline has no production model.
   */
  async route(pipeline: string, key: string | undefined): Promise<Predictor> {
    const production = await this.production(pipeline)
    const canary = this.entries.get(pipeline)?.canary
    if (canary === undefined) return production
    return canaryShare(key, canary.predictor.version) * 100 < canary.percent ? canary.predictor : production
  }

  /** @throws FreshetError `MODEL_NOT_FOUND` when the pipeline has no production model. */
  async production(pipeline: string): Promise<Predictor> {
    let entry = this.entries.get(pipeline)
    if (entry === undefined) {
      entry = { predictor: undefined, canary: undefined, checkedAt: 0, loading: undefined }
      this.entries.set(pipeline, entry)
    }
    if (entry.predictor === undefined || Date.now() - entry.checkedAt >= this.refreshMs) {
      const current = entry
      // One refresh at a time; a failed load is reported once, and a loaded model keeps serving meanwhile.
      current.loading ??= this.refresh(pipeline, current)
        .catch((error: unknown) => {
          if (current.predictor === undefined) throw error
          this.onError(pipeline, error)
          return current.predictor
        })
        .finally(() => {
          current.loading = undefined
        })
      if (current.predictor === undefined) await current.loading
    }
    if (entry.predictor === undefined) {
      throw new FreshetError('MODEL_NOT_FOUND', `pipeline ${pipeline} has no production model yet`, { hint: `train one: freshet train ${pipeline}` })
    }
    return entry.predictor
  }

  private async refresh(pipeline: string, entry: Entry): Promise<Predictor | undefined> {
    const [version, canary] = await Promise.all([this.registry.alias(pipeline, 'production'), this.canaryOf(pipeline)])
    entry.checkedAt = Date.now()
    if (version === undefined) {
      entry.predictor = undefined
      entry.canary = undefined
      return undefined
    }
    if (entry.predictor?.version !== version) entry.predictor = await Predictor.load(this.registry, pipeline, version, this.root)
    if (canary === undefined || canary.version === version) entry.canary = undefined
    else if (entry.canary?.predictor.version === canary.version) entry.canary = { predictor: entry.canary.predictor, percent: canary.percent }
    else {
      try {
        entry.canary = { predictor: await Predictor.load(this.registry, pipeline, canary.version, this.root), percent: canary.percent }
      } catch (error) {
        entry.canary = undefined
        this.onError(pipeline, error)
      }
    }
    return entry.predictor
  }
}

/** Where a request falls in [0, 1): from its key when it has one (sticky per canary version), else random. */
export function canaryShare(key: string | undefined, version: number): number {
  return key === undefined ? Math.random() : murmur3(key, version) / 4294967296
}
