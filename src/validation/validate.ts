import type { DatasetSpec } from '../config/schema.js'
import { ident, literal, type Duck } from '../data/duckdb.js'
import type { TypeMismatch } from '../data/read-batch.js'
import type { SchemaColumn } from '../data/schema.js'
import type { ColumnStatistics, MergedStatistics } from '../data/statistics.js'
import type { Anomaly, AnomalyCode, ColumnScores, Severity, ValidationReport } from './anomaly.js'
import { jensenShannon, linfDistance, psi } from './distances.js'
import { categoryCounts, newValueFraction, quantileHistograms } from './distributions.js'
import { columnThresholds, datasetThresholds, validationDefaults } from './thresholds.js'

export interface ValidationInput {
  readonly duck: Duck
  readonly spec: DatasetSpec
  readonly candidate: {
    file: string
    rows: number
    columns: readonly SchemaColumn[]
    statistics: readonly ColumnStatistics[]
  }
  readonly read: {
    missingColumns: readonly string[]
    typeMismatches: readonly TypeMismatch[]
    newColumns: readonly string[]
  }
  /** The previous accepted data, for drift; undefined for a dataset's first batch. */
  readonly reference:
    { files: string[]; batchIds: string[]; rows: number; statistics: MergedStatistics[] } | undefined
  /** The production model's training data, for skew. */
  readonly skew: { files: string[]; pipeline: string; version: number; batchIds: string[] } | undefined
  /** True when a binary pipeline learns from this dataset: labels must then be 0/1 or booleans. */
  readonly binaryLabel: boolean
  readonly now?: Date
}

export interface ValidationOutcome {
  readonly report: ValidationReport
  /** SQL condition over the candidate (with `__r`, the 1-based row number) true for rows with a blocking row-level problem. */
  readonly badRowCondition: string | null
}

const numeric = (c: SchemaColumn) => c.type === 'integer' || c.type === 'number'

/**
 * Checks a batch against its dataset's schema, the statistics of the previous accepted data and the production
 * model's training data. Every anomaly carries a code, the column, the measured value, the threshold, a severity
 * and example rows; scores (missing fraction, drift, skew) are returned for every column whether anomalous or not.
 */
export async function validateBatch(input: ValidationInput): Promise<ValidationOutcome> {
  const { duck, spec, candidate, reference } = input
  const settings = datasetThresholds(spec.validation)
  const anomalies: Anomaly[] = []
  const scores: Record<string, ColumnScores> = {}
  const small = candidate.rows < settings.minRows || (reference?.rows ?? 0) < settings.minRows
  const add = (a: Omit<Anomaly, 'severity'> & { severity?: Severity | undefined; statistical?: boolean }) => {
    const own = a.column === null ? undefined : columnThresholds(spec.validation, a.column).severity
    let severity: Severity = own ?? a.severity ?? 'blocking'
    // Too few rows on either side to tell drift from noise: a statistical finding is only a warning then.
    if (a.statistical === true && small) severity = 'warning'
    const { statistical: _statistical, ...rest } = a
    anomalies.push({ ...rest, severity })
  }

  // The candidate with 1-based row numbers, built only when some check needs to scan rows.
  let candReady = false
  const cand = async (): Promise<string> => {
    if (!candReady) {
      await duck.run(`CREATE OR REPLACE TEMP TABLE cand AS SELECT row_number() OVER () AS __r, * FROM read_parquet(${literal(candidate.file)})`)
      candReady = true
    }
    return 'cand'
  }
  const statsOf = (name: string) => candidate.statistics.find((s) => s.name === name)
  // `possible: false` when the batch statistics already show the check finds nothing: no scan then.
  const conditions: { code: AnomalyCode; column: string | null; sql: string; possible: boolean }[] = []

  // Schema.
  for (const column of input.read.missingColumns) {
    add({
      code: 'MISSING_COLUMN',
      column,
      value: 1,
      threshold: null,
      message: `column ${column} is missing from the batch`,
      examples: [],
    })
  }
  for (const column of input.read.newColumns) {
    add({
      code: 'NEW_COLUMN',
      column,
      severity: 'warning',
      value: 1,
      threshold: null,
      message: `new column ${column} (not in the dataset's schema yet)`,
      examples: [],
    })
  }
  await duck.run('CREATE OR REPLACE TEMP TABLE type_errors (__r BIGINT)')
  for (const mismatch of input.read.typeMismatches) {
    add({
      code: 'TYPE_MISMATCH',
      column: mismatch.column,
      value: mismatch.count,
      threshold: 0,
      message: `${mismatch.count} values of ${mismatch.column} are not ${mismatch.expected}, e.g. row ${mismatch.examples[0]?.row ?? '?'}: ${JSON.stringify(mismatch.examples[0]?.value ?? '')}`,
      examples: mismatch.examples.map((e) => e.row),
      values: mismatch.examples.slice(0, 5).map((e) => e.value),
    })
    for (let i = 0; i < mismatch.rows.length; i += 10_000) {
      await duck.run(
        `INSERT INTO type_errors VALUES ${mismatch.rows
          .slice(i, i + 10_000)
          .map((r) => `(${Math.trunc(r)})`)
          .join(', ')}`,
      )
    }
  }
  if (input.read.typeMismatches.length > 0)
    conditions.push({ code: 'TYPE_MISMATCH', column: null, sql: '__r IN (SELECT __r FROM type_errors)', possible: true })

  const present = new Set(candidate.columns.map((c) => c.name))
  // Row-level checks.
  const label = spec.label !== undefined && present.has(spec.label) ? ident(spec.label) : undefined
  if (label !== undefined && spec.label !== undefined) {
    conditions.push({
      code: 'LABEL_MISSING',
      column: spec.label,
      sql: `${label} IS NULL AND __r NOT IN (SELECT __r FROM type_errors)`,
      possible: (statsOf(spec.label)?.missing ?? 1) > 0,
    })
    if (input.binaryLabel) {
      conditions.push({
        code: 'LABEL_INVALID',
        column: spec.label,
        sql: `${label} IS NOT NULL AND lower(CAST(${label} AS VARCHAR)) NOT IN ('0', '1', 'true', 'false', '0.0', '1.0')`,
        possible: !binaryByStatistics(statsOf(spec.label)),
      })
    }
  }
  for (const column of candidate.columns.filter(numeric)) {
    const x = `CAST(${ident(column.name)} AS DOUBLE)`
    const n = statsOf(column.name)?.numeric
    conditions.push({ code: 'NAN_OR_INF', column: column.name, sql: `(isnan(${x}) OR isinf(${x}))`, possible: n === undefined || n.nan + n.infinite > 0 })
  }
  if (spec.eventTime !== undefined && present.has(spec.eventTime)) {
    const t = `CAST(${ident(spec.eventTime)} AS TIMESTAMPTZ)`
    const now = (input.now ?? new Date()).getTime() + settings.futureToleranceMs
    const range = statsOf(spec.eventTime)?.timestamp
    const times = range === undefined ? undefined : { min: Date.parse(range.min), max: Date.parse(range.max) }
    conditions.push({
      code: 'FUTURE_EVENT_TIME',
      column: spec.eventTime,
      sql: `${t} > make_timestamptz(${now * 1000})`,
      possible: times === undefined || !(times.max <= now),
    })
    conditions.push({
      code: 'FAR_PAST_EVENT_TIME',
      column: spec.eventTime,
      sql: `${t} < TIMESTAMPTZ '1971-01-01 00:00:00+00'`,
      possible: times === undefined || !(times.min >= Date.UTC(1971, 0, 1)),
    })
  }
  if (spec.id !== undefined && present.has(spec.id)) {
    const id = ident(spec.id)
    const seen =
      reference === undefined
        ? ''
        : ` OR ${id} IN (SELECT ${id} FROM read_parquet([${reference.files.map(literal).join(', ')}], union_by_name = true))`
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE dup_ids AS SELECT __r FROM (SELECT __r, ${id}, row_number() OVER (PARTITION BY ${id} ORDER BY __r) AS k FROM ${await cand()} WHERE ${id} IS NOT NULL) WHERE k > 1${seen}`,
    )
    conditions.push({ code: 'DUPLICATE_ID', column: spec.id, sql: '__r IN (SELECT __r FROM dup_ids)', possible: true })
  }
  const reasons: Record<string, number> = {}
  const blockingRowConditions: string[] = []
  for (const condition of conditions) {
    if (!condition.possible) continue
    const [count] = await duck.rows(`SELECT CAST(count(*) AS DOUBLE) AS n FROM ${await cand()} WHERE ${condition.sql}`)
    const n = Number(count?.n ?? 0)
    if (n === 0) continue
    const examples = (
      await duck.rows(`SELECT __r FROM cand WHERE ${condition.sql} ORDER BY __r LIMIT 10`)
    ).map((r) => Number(r.__r))
    if (condition.code !== 'TYPE_MISMATCH') {
      add({
        code: condition.code,
        column: condition.column,
        value: n,
        threshold: 0,
        message: rowMessage(condition.code, condition.column, n, examples),
        examples,
      })
    }
    reasons[condition.code] = n
    const severity = anomalies.find(
      (a) => a.code === condition.code && (condition.column === null || a.column === condition.column),
    )?.severity
    if (severity === 'blocking') blockingRowConditions.push(`(${condition.sql})`)
  }
  const badRowCondition = blockingRowConditions.length === 0 ? null : blockingRowConditions.join(' OR ')
  const [bad] =
    badRowCondition === null
      ? [{ n: 0 }]
      : await duck.rows(`SELECT CAST(count(*) AS DOUBLE) AS n FROM cand WHERE ${badRowCondition}`)

  // Column statistics against the reference.
  const refStats = new Map((reference?.statistics ?? []).map((s) => [s.name, s]))
  for (const column of candidate.columns) {
    const t = columnThresholds(spec.validation, column.name)
    const stats = candidate.statistics.find((s) => s.name === column.name)
    if (stats === undefined) continue
    const ref = refStats.get(column.name)
    const missing = candidate.rows === 0 ? 0 : stats.missing / candidate.rows
    const columnScores: ColumnScores = { missing }
    scores[column.name] = columnScores
    if (ref !== undefined) columnScores.referenceMissing = ref.missing / Math.max(1, ref.count + ref.missing)
    if (t.ignore) continue
    const role =
      column.name === spec.label
        ? 'label'
        : column.name === spec.eventTime
          ? 'time'
          : column.name === spec.id
            ? 'id'
            : 'feature'

    if (stats.count === 0 && candidate.rows > 0 && (ref === undefined || ref.count > 0)) {
      add({
        code: 'ALL_NULL',
        column: column.name,
        value: 1,
        threshold: null,
        message: `every value of ${column.name} is null`,
        examples: [],
      })
    } else if (t.maxMissing !== undefined && missing > t.maxMissing) {
      add({
        code: 'MISSING_FRACTION',
        column: column.name,
        value: missing,
        threshold: t.maxMissing,
        message: `${pct(missing)} of ${column.name} is missing, above the limit of ${pct(t.maxMissing)}`,
        examples: await nullRows(duck, await cand(), column.name),
      })
    } else if (
      columnScores.referenceMissing !== undefined &&
      missing - columnScores.referenceMissing > t.maxMissingIncrease
    ) {
      add({
        code: 'MISSING_FRACTION',
        column: column.name,
        value: missing,
        threshold: columnScores.referenceMissing + t.maxMissingIncrease,
        statistical: true,
        message: `${pct(missing)} of ${column.name} is missing, up from ${pct(columnScores.referenceMissing)} in the previous accepted data`,
        examples: await nullRows(duck, await cand(), column.name),
      })
    }
    if (
      ref !== undefined &&
      stats.distinct === 1 &&
      ref.distinct > 1 &&
      candidate.rows >= settings.minRows &&
      role === 'feature'
    ) {
      add({
        code: 'CONSTANT_COLUMN',
        column: column.name,
        severity: 'warning',
        value: 1,
        threshold: null,
        message: `${column.name} has a single value in this batch, ${ref.distinct} before`,
        examples: [],
      })
    }
    if (numeric(column) && stats.numeric !== undefined) {
      const refNumeric = ref?.numeric
      const span = refNumeric === undefined ? 0 : refNumeric.max - refNumeric.min
      const lower = t.min ?? (refNumeric === undefined ? undefined : refNumeric.min - t.rangeTolerance * span)
      const upper = t.max ?? (refNumeric === undefined ? undefined : refNumeric.max + t.rangeTolerance * span)
      const inside = lower !== undefined && upper !== undefined && stats.numeric.min >= lower && stats.numeric.max <= upper
      if (inside) columnScores.outOfRange = 0
      else if (lower !== undefined && upper !== undefined && role !== 'time' && role !== 'id') {
        const x = `CAST(${ident(column.name)} AS DOUBLE)`
        const outside = `isfinite(${x}) AND (${x} < ${lower} OR ${x} > ${upper})`
        const [row] = await duck.rows(`SELECT CAST(count_if(${outside}) AS DOUBLE) AS n FROM ${await cand()}`)
        const fraction = Number(row?.n ?? 0) / Math.max(1, stats.count)
        columnScores.outOfRange = fraction
        const declared = t.min !== undefined || t.max !== undefined
        if (fraction > (declared ? 0 : t.maxOutOfRange)) {
          const examples = (
            await duck.rows(`SELECT __r FROM cand WHERE ${outside} ORDER BY __r LIMIT 10`)
          ).map((r) => Number(r.__r))
          add({
            code: 'OUT_OF_RANGE',
            column: column.name,
            value: fraction,
            threshold: declared ? 0 : t.maxOutOfRange,
            statistical: !declared,
            message: `${pct(fraction)} of ${column.name} lies outside [${round(lower)}, ${round(upper)}]${declared ? ' (declared)' : ' (the previous range, widened)'}`,
            examples,
          })
        }
      }
    }
    // Columns new in this batch have nothing to be compared with.
    if (reference === undefined || ref === undefined || role === 'time' || role === 'id') continue
    const textLike = (s: Pick<MergedStatistics, 'count' | 'distinct'>) =>
      s.count > 0 && s.distinct / s.count > validationDefaults.textCardinality
    const categorical = (column.type === 'string' || column.type === 'boolean') && !textLike(stats) && !textLike(ref)
    // An open domain (many distinct values for its rows, like sender domains) meets new values all the time:
    // its new-value and drift findings are warnings; a closed one (airport codes) blocks.
    const openDomain = (s: Pick<MergedStatistics, 'count' | 'distinct'>) => s.distinct / Math.max(1, s.count) > validationDefaults.openDomainCardinality
    const open = categorical && (openDomain(ref) || openDomain(stats))
    if (categorical && role === 'feature') {
      const fresh = await newValueFraction(duck, reference.files, candidate.file, column.name)
      columnScores.newValues = fresh.fraction
      if (fresh.fraction > t.maxNewValues) {
        add({
          code: 'NEW_VALUES',
          column: column.name,
          ...(open ? { severity: 'warning' as const } : {}),
          value: fresh.fraction,
          threshold: t.maxNewValues,
          statistical: true,
          message: `${pct(fresh.fraction)} of ${column.name} has values never seen before, e.g. ${fresh.topNewValues.map((v) => `${JSON.stringify(v.value)} (${v.count})`).join(', ')}`,
          examples: fresh.exampleRows,
          values: fresh.topNewValues.map((v) => v.value),
        })
      }
    }
    const drift = await distance(
      duck,
      reference.files,
      candidate.file,
      column,
      numeric(column) ? 'js' : categorical ? 'linf' : undefined,
    )
    if (drift !== undefined) {
      columnScores.drift = drift
      const limit = drift.metric === 'js' ? t.numericDrift : t.drift
      if (drift.value > limit) {
        add({
          code: 'DRIFT',
          column: column.name,
          severity: role === 'label' || open ? 'warning' : t.driftSeverity,
          value: drift.value,
          threshold: limit,
          statistical: true,
          message: `${column.name} drifted from the previous accepted data: ${drift.metric === 'js' ? 'Jensen-Shannon divergence' : 'L-infinity distance'} ${drift.value.toFixed(3)} > ${limit}${drift.psi === undefined ? '' : `, PSI ${drift.psi.toFixed(2)}`}`,
          examples: [],
        })
      }
    }
    if (input.skew !== undefined) {
      const skew = await distance(
        duck,
        input.skew.files,
        candidate.file,
        column,
        numeric(column) ? 'js' : categorical ? 'linf' : undefined,
      )
      if (skew !== undefined) {
        columnScores.skew = skew
        if (skew.value > t.skew) {
          add({
            code: 'SKEW',
            column: column.name,
            severity: t.skewSeverity,
            value: skew.value,
            threshold: t.skew,
            statistical: true,
            message: `${column.name} differs from the training data of ${input.skew.pipeline} v${input.skew.version}: ${skew.metric} ${skew.value.toFixed(3)} > ${t.skew}`,
            examples: [],
          })
        }
      }
    }
  }

  return {
    report: {
      anomalies,
      scores,
      reference: { batches: reference?.batchIds ?? [], rows: reference?.rows ?? 0 },
      skewReference:
        input.skew === undefined
          ? null
          : { pipeline: input.skew.pipeline, version: input.skew.version, batches: input.skew.batchIds },
      badRows: { count: Number(bad?.n ?? 0), reasons },
      validatedAt: new Date().toISOString(),
    },
    badRowCondition,
  }
}

async function distance(
  duck: Duck,
  files: string[],
  candidate: string,
  column: SchemaColumn,
  metric: 'js' | 'linf' | undefined,
): Promise<ColumnScores['drift']> {
  if (metric === 'js') {
    const h = await quantileHistograms(duck, files, candidate, column.name)
    if (h === undefined) return undefined
    return { metric, value: jensenShannon(h.reference, h.candidate), psi: psi(h.reference, h.candidate) }
  }
  if (metric === 'linf') {
    const counts = await categoryCounts(duck, files, candidate, column.name)
    if (counts.reference.size === 0 || counts.candidate.size === 0) return undefined
    return { metric, value: linfDistance(counts.reference, counts.candidate) }
  }
  return undefined
}

/** True when a label's statistics show only 0/1 or booleans, so no row can be an invalid binary label. */
function binaryByStatistics(stats: ColumnStatistics | undefined): boolean {
  if (stats === undefined) return false
  if (stats.type === 'boolean') return true
  const n = stats.numeric
  return n !== undefined && n.nan + n.infinite === 0 && (n.min === 0 || n.min === 1) && (n.max === 0 || n.max === 1) && stats.distinct <= 2
}

async function nullRows(duck: Duck, table: string, column: string): Promise<number[]> {
  return (await duck.rows(`SELECT __r FROM ${table} WHERE ${ident(column)} IS NULL ORDER BY __r LIMIT 10`)).map(
    (r) => Number(r.__r),
  )
}

const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`
const round = (x: number) => (Math.abs(x) >= 100 ? Math.round(x) : Number(x.toPrecision(4)))

function rowMessage(code: AnomalyCode, column: string | null, n: number, examples: number[]): string {
  const at = `rows ${examples.slice(0, 3).join(', ')}${n > 3 ? ', …' : ''}`
  switch (code) {
    case 'LABEL_MISSING':
      return `${n} rows have no label ${column ?? ''} (${at})`
    case 'LABEL_INVALID':
      return `${n} labels of ${column ?? ''} are not 0/1 or true/false (${at})`
    case 'NAN_OR_INF':
      return `${n} values of ${column ?? ''} are NaN or infinite (${at})`
    case 'FUTURE_EVENT_TIME':
      return `${n} event times in ${column ?? ''} are in the future (${at})`
    case 'FAR_PAST_EVENT_TIME':
      return `${n} event times in ${column ?? ''} are before 1971, likely a placeholder (${at})`
    case 'DUPLICATE_ID':
      return `${n} rows repeat an id of ${column ?? ''} seen before (${at})`
    default:
      return `${n} rows (${at})`
  }
}
