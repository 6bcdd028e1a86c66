/** Stable codes of the anomalies validation can find. */
export const anomalyCodes = [
  'MISSING_COLUMN',
  'NEW_COLUMN',
  'TYPE_MISMATCH',
  'LABEL_MISSING',
  'LABEL_INVALID',
  'NEW_VALUES',
  'OUT_OF_RANGE',
  'MISSING_FRACTION',
  'NAN_OR_INF',
  'CONSTANT_COLUMN',
  'ALL_NULL',
  'FUTURE_EVENT_TIME',
  'FAR_PAST_EVENT_TIME',
  'DUPLICATE_ID',
  'DRIFT',
  'SKEW',
] as const
export type AnomalyCode = (typeof anomalyCodes)[number]

export type Severity = 'blocking' | 'warning'

/** One finding of validation: what, where, how much, against what threshold, and example rows. */
export interface Anomaly {
  readonly code: AnomalyCode
  readonly column: string | null
  readonly severity: Severity
  /** The measured value (a fraction, a count or a distance). */
  readonly value: number
  readonly threshold: number | null
  readonly message: string
  /** Up to 10 example 1-based row numbers of the batch. */
  readonly examples: number[]
  /** Up to 5 example values, where they help. */
  readonly values?: string[]
}

/** Scores recorded for every column of every batch, anomalous or not. */
export interface ColumnScores {
  missing: number
  referenceMissing?: number
  drift?: { metric: 'linf' | 'js'; value: number; psi?: number }
  skew?: { metric: 'linf' | 'js'; value: number; psi?: number }
  newValues?: number
  outOfRange?: number
}

export interface ValidationReport {
  readonly anomalies: Anomaly[]
  readonly scores: Record<string, ColumnScores>
  /** The batches the drift checks compared with, and those the skew checks compared with. */
  readonly reference: { batches: string[]; rows: number }
  readonly skewReference: { pipeline: string; version: number; batches: string[] } | null
  /** Rows with a row-level problem (type, label, NaN/Inf, event time, duplicate id): these can be split off. */
  readonly badRows: { count: number; reasons: Record<string, number> }
  readonly validatedAt: string
}

export const isBlocking = (report: Pick<ValidationReport, 'anomalies'>): boolean =>
  report.anomalies.some((a) => a.severity === 'blocking')

/** Anomalies that concern single rows, which `onBadRows: 'split'` can move to a quarantined sub-batch. */
export const rowLevelCodes: ReadonlySet<AnomalyCode> = new Set([
  'TYPE_MISMATCH',
  'LABEL_MISSING',
  'LABEL_INVALID',
  'NAN_OR_INF',
  'FUTURE_EVENT_TIME',
  'FAR_PAST_EVENT_TIME',
  'DUPLICATE_ID',
])
