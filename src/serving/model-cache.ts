import { FreshetError } from '../core/errors.js'
import type { Registry } from '../registry/registry.js'
import { Predictor } from './predictor.js'

interface Entry {
  predictor: Predictor | undefined
  checkedAt: number
  loading: Promise<Predictor | undefined> | undefined
}

/**
 * The models a server serves: each pipeline's `production` alias, loaded once and re-checked at most every
 * `refreshMs` (default 1 s). A new version is loaded beside the old one and swapped in when ready, so requests
 * in flight finish on the model they started with and none fail during the swap.
 */
export class ModelCache {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly registry: Registry,
    private readonly root: string,
    private readonly refreshMs = 1000,
    private readonly onError: (pipeline: string, error: unknown) => void = () => undefined,
  ) {}

  /** @throws FreshetError `MODEL_NOT_FOUND` when the pipeline has no production model. */
  async production(pipeline: string): Promise<Predictor> {
    let entry = this.entries.get(pipeline)
    if (entry === undefined) {
      entry = { predictor: undefined, checkedAt: 0, loading: undefined }
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
    const version = await this.registry.alias(pipeline, 'production')
    entry.checkedAt = Date.now()
    if (version === undefined) {
      entry.predictor = undefined
      return undefined
    }
    if (entry.predictor?.version !== version) entry.predictor = await Predictor.load(this.registry, pipeline, version, this.root)
    return entry.predictor
  }
}
