import { jensenShannon, linfDistance } from '../validation/distances.js'
import { OTHER_VALUES } from '../validation/distributions.js'
import { binOf, categoryKey, numericValue, type ColumnBaseline, type ServingBaseline } from './baseline.js'

/** The drift of one input column in a window of serving traffic. */
export interface FeatureDrift {
  readonly kind: 'numeric' | 'categorical'
  /** Jensen-Shannon (numeric, on the training quantile bins) or L-infinity (categorical); null without values. */
  readonly distance: number | null
  /** Served instances with a value. */
  readonly present: number
  /** Served instances without one (absent, null, not finite). */
  readonly missing: number
}

export interface WindowDrift {
  readonly rows: number
  readonly features: Record<string, FeatureDrift>
  /** The largest feature distance; null when none could be computed. */
  readonly drift: number | null
  /** Jensen-Shannon of the served predictions against the holdout's, on the holdout's quantile bins. */
  readonly predictionDrift: number | null
}

/** Distinct new categorical values tracked per column in one window; more are counted together. */
const maxServingCategories = 10_000

type Counts = {
  readonly baseline: ColumnBaseline
  bins: number[]
  values: Map<string, number>
  missing: number
}

/**
 * Counts served instances and predictions into the shapes of a model's {@link ServingBaseline}, then measures the
 * same distances validation uses. Memory is bounded by the bins and at most 10,000 values a column, whatever the
 * number of rows added.
 */
export class DriftAccumulator {
  private rows = 0
  private readonly columns = new Map<string, Counts>()
  private readonly predictionBins: number[] | undefined

  constructor(private readonly baseline: ServingBaseline) {
    for (const [column, b] of Object.entries(baseline.features)) {
      this.columns.set(column, {
        baseline: b,
        bins: b.kind === 'numeric' ? new Array<number>(b.counts.length).fill(0) : [],
        values: new Map(),
        missing: 0,
      })
    }
    this.predictionBins =
      baseline.predictions === null
        ? undefined
        : new Array<number>(baseline.predictions.counts.length).fill(0)
  }

  /** Adds one served instance (the raw JSON object) and the prediction made for it. */
  add(instance: unknown, prediction: number | null): void {
    this.rows++
    const row =
      instance !== null && typeof instance === 'object' && !Array.isArray(instance)
        ? (instance as Record<string, unknown>)
        : {}
    for (const [column, c] of this.columns) {
      const raw = Object.hasOwn(row, column) ? row[column] : undefined
      if (c.baseline.kind === 'numeric') {
        const x = numericValue(raw)
        if (x === undefined) c.missing++
        else c.bins[binOf(c.baseline.cuts, x)]!++
      } else {
        let key = categoryKey(raw)
        if (key === undefined) {
          c.missing++
          continue
        }
        if (!Object.hasOwn(c.baseline.counts, key)) {
          // Like validation's tail: values the training counts summed as `__other__` join it; past the bound, new ones too.
          if (
            Object.hasOwn(c.baseline.counts, OTHER_VALUES) ||
            (c.values.size >= maxServingCategories && !c.values.has(key))
          )
            key = OTHER_VALUES
        }
        c.values.set(key, (c.values.get(key) ?? 0) + 1)
      }
    }
    const predictions = this.baseline.predictions
    if (
      predictions !== null &&
      this.predictionBins !== undefined &&
      prediction !== null &&
      Number.isFinite(prediction)
    ) {
      this.predictionBins[binOf(predictions.cuts, prediction)]!++
    }
  }

  result(): WindowDrift {
    const features: Record<string, FeatureDrift> = {}
    let drift: number | null = null
    for (const [column, c] of this.columns) {
      let distance: number
      let present: number
      if (c.baseline.kind === 'numeric') {
        present = c.bins.reduce((a, b) => a + b, 0)
        distance = jensenShannon(c.baseline.counts, c.bins)
      } else {
        present = [...c.values.values()].reduce((a, b) => a + b, 0)
        distance = linfDistance(new Map(Object.entries(c.baseline.counts)), c.values)
      }
      const value = Number.isFinite(distance) ? distance : null
      features[column] = { kind: c.baseline.kind, distance: value, present, missing: c.missing }
      if (value !== null && (drift === null || value > drift)) drift = value
    }
    let predictionDrift: number | null = null
    if (this.baseline.predictions !== null && this.predictionBins !== undefined) {
      const d = jensenShannon(this.baseline.predictions.counts, this.predictionBins)
      predictionDrift = Number.isFinite(d) ? d : null
    }
    return { rows: this.rows, features, drift, predictionDrift }
  }
}
