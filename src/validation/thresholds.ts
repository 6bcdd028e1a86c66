import type { ValidationSpec } from '../config/schema.js'
import { parseDuration } from '../core/durations.js'
import type { Severity } from './anomaly.js'

/** Default thresholds: chosen so ordinary week-to-week change in real data (flights, spam) passes. */
export const validationDefaults = {
  driftThreshold: 0.1,
  /**
   * Jensen-Shannon on 20 bins cut at the reference's quantiles. Measured on flights-3m: normal weeks against the
   * 4 before them peak at 0.0175; delay x10 gives 0.48 or more, distance in km 0.071.
   */
  numericDriftThreshold: 0.035,
  driftSeverity: 'blocking' as Severity,
  skewThreshold: 0.2,
  skewSeverity: 'warning' as Severity,
  maxMissingIncrease: 0.2,
  maxNewValues: 0.1,
  maxOutOfRange: 0.01,
  rangeTolerance: 0.5,
  futureToleranceMs: 86_400_000,
  referenceBatches: 4,
  minRows: 100,
  maxBadRowFraction: 0.05,
  /** Strings with more distinct values than this share of rows are free text or ids: no category checks. */
  textCardinality: 0.5,
  /** Categorical columns with more distinct values than this share of rows have an open domain. */
  openDomainCardinality: 0.1,
}

/** The thresholds that apply to one column: the column's own, else the dataset's, else the defaults. */
export function columnThresholds(spec: ValidationSpec | undefined, column: string) {
  const own = spec?.columns?.[column] ?? {}
  return {
    ignore: own.ignore === true,
    severity: own.severity,
    maxMissing: own.maxMissing ?? spec?.maxMissing,
    maxMissingIncrease: spec?.maxMissingIncrease ?? validationDefaults.maxMissingIncrease,
    drift: own.drift ?? spec?.drift?.threshold ?? validationDefaults.driftThreshold,
    numericDrift: own.drift ?? spec?.drift?.numericThreshold ?? validationDefaults.numericDriftThreshold,
    driftSeverity: own.severity ?? spec?.drift?.severity ?? validationDefaults.driftSeverity,
    skew: spec?.skew?.threshold ?? validationDefaults.skewThreshold,
    skewSeverity: spec?.skew?.severity ?? validationDefaults.skewSeverity,
    maxNewValues: own.newValues ?? spec?.maxNewValues ?? validationDefaults.maxNewValues,
    maxOutOfRange: spec?.maxOutOfRange ?? validationDefaults.maxOutOfRange,
    rangeTolerance: spec?.rangeTolerance ?? validationDefaults.rangeTolerance,
    min: own.min,
    max: own.max,
  }
}

export function datasetThresholds(spec: ValidationSpec | undefined) {
  return {
    futureToleranceMs:
      spec?.futureTolerance === undefined
        ? validationDefaults.futureToleranceMs
        : parseDuration(spec.futureTolerance),
    referenceBatches: spec?.referenceBatches ?? validationDefaults.referenceBatches,
    minRows: spec?.minRows ?? validationDefaults.minRows,
    onBadRows: spec?.onBadRows ?? 'quarantine-batch',
    maxBadRowFraction: spec?.maxBadRowFraction ?? validationDefaults.maxBadRowFraction,
  }
}
