import type { LoadedConfig } from '../config/load.js'
import type { DatasetSpec } from '../config/schema.js'
import { FreshetError } from '../core/errors.js'
import { didYouMean } from '../core/names.js'

/**
 * The declaration of a dataset in the configuration.
 * @throws FreshetError `DATASET_NOT_FOUND` with a did-you-mean.
 */
export function datasetSpecOf(config: LoadedConfig, dataset: string): DatasetSpec {
  const datasets = config.config.datasets ?? {}
  const spec = datasets[dataset]
  if (spec === undefined) {
    const names = Object.keys(datasets)
    const guess = didYouMean(dataset, names)
    throw new FreshetError('DATASET_NOT_FOUND', `dataset ${JSON.stringify(dataset)} does not exist${guess === undefined ? '' : `; did you mean ${JSON.stringify(guess)}?`}`, {
      hint: names.length === 0 ? 'declare it under `datasets` in freshet.config.ts' : `the datasets in ${config.file ?? 'the configuration'} are: ${names.join(', ')}`,
    })
  }
  return spec
}
