import * as z from 'zod'
import { FreshetError } from '../../core/errors.js'
import type { SparseMatrix } from '../../features/sparse.js'
import type { ModelWeights, Task } from '../trainer.js'

/*
 * XGBoost's JSON model (what `model_out=<file>.json` writes, schema in xgboost's doc/model.schema) read as data
 * and scored here by walking its trees: nothing the command produced is ever executed. The trees are flattened
 * into typed arrays for the artifact; a node whose left child is -1 is a leaf whose value is its split condition.
 */

const numberText = z.union([z.number(), z.string().regex(/^[-+0-9.eE]+$/)]).transform(Number)
const intArray = z.array(z.number().int())

const tree = z.object({
  left_children: intArray,
  right_children: intArray,
  split_indices: intArray,
  split_conditions: z.array(z.number()),
  default_left: z.array(z.union([z.number().int(), z.boolean()])),
  split_type: z.array(z.number().int()).optional(),
})

const xgboostModel = z.object({
  version: z.array(z.number().int()).optional(),
  learner: z.object({
    learner_model_param: z.object({ base_score: numberText, num_class: numberText.optional(), num_target: numberText.optional() }),
    objective: z.object({ name: z.string() }),
    gradient_booster: z.object({
      name: z.string(),
      model: z.object({ trees: z.array(tree) }).optional(),
      gbtree: z.object({ model: z.object({ trees: z.array(tree) }) }).optional(),
      weight_drop: z.array(z.number()).optional(),
    }),
  }),
})

/** Objectives whose predictions Freshet reproduces: sigmoid of the margin, or the margin itself. */
const logistic = new Set(['binary:logistic', 'reg:logistic'])
const identity = new Set(['reg:squarederror', 'reg:linear', 'reg:absoluteerror', 'reg:pseudohubererror'])

const describeIssue = (issue: z.core.$ZodIssue): string => `${issue.path.length === 0 ? '(top level)' : issue.path.join('.')}: ${issue.message}`

/**
 * Reads an XGBoost JSON model into weights Freshet scores itself.
 * @throws FreshetError `TRAINING_FAILED` naming `file` and the field when it is not a JSON model of a supported
 * shape (gbtree or dart, one output, numeric splits) and objective for `task`.
 */
export function parseXgboostModel(text: string, file: string, task: Task): ModelWeights {
  const fail = (what: string, hint?: string): never => {
    throw new FreshetError('TRAINING_FAILED', `${file}: ${what}`, { hint: hint ?? 'the command must write an XGBoost JSON model (model_out=<name>.json) of a gbtree or dart booster' })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return fail(`is not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
  const parsed = xgboostModel.safeParse(json)
  if (!parsed.success) return fail(`is not an XGBoost JSON model: ${parsed.error.issues.slice(0, 3).map(describeIssue).join('; ')}`)
  const { learner } = parsed.data
  const objective = learner.objective.name
  if (!logistic.has(objective) && !identity.has(objective)) {
    fail(`learner.objective.name is ${JSON.stringify(objective)}, which Freshet cannot score`, `use binary:logistic for a binary task, or ${[...identity].join(', ')} for regression`)
  }
  if (task === 'binary' && !logistic.has(objective)) fail(`learner.objective.name is ${objective}, but the pipeline's task is binary`, 'train with objective=binary:logistic')
  const classes = learner.learner_model_param.num_class ?? 0
  const targets = learner.learner_model_param.num_target ?? 1
  if (classes > 1 || targets > 1) fail(`learner.learner_model_param: ${classes} classes and ${targets} targets; Freshet scores one output`)
  const booster = learner.gradient_booster
  const trees = booster.name === 'gbtree' ? booster.model?.trees : booster.name === 'dart' ? booster.gbtree?.model.trees : undefined
  if (trees === undefined) return fail(`learner.gradient_booster.name is ${JSON.stringify(booster.name)}: expected gbtree or dart`)
  const drop = booster.name === 'dart' ? (booster.weight_drop ?? []) : []

  const nodes = trees.reduce((n, t) => n + t.left_children.length, 0)
  const left = new Float64Array(nodes)
  const right = new Float64Array(nodes)
  const feature = new Float64Array(nodes)
  const threshold = new Float32Array(nodes)
  const defaultLeft = new Float32Array(nodes)
  const roots = new Float64Array(trees.length)
  const treeWeights = new Float64Array(trees.length)
  let offset = 0
  trees.forEach((t, k) => {
    const n = t.left_children.length
    const where = `learner.gradient_booster trees[${k}]`
    if (n === 0) fail(`${where} has no nodes`)
    for (const [name, array] of Object.entries({ right_children: t.right_children, split_indices: t.split_indices, split_conditions: t.split_conditions, default_left: t.default_left })) {
      if (array.length !== n) fail(`${where}.${name} has ${array.length} entries, left_children ${n}`)
    }
    if (t.split_type?.some((s) => s !== 0) === true) fail(`${where} has categorical splits, which Freshet cannot score`)
    roots[k] = offset
    treeWeights[k] = drop[k] ?? 1
    for (let i = 0; i < n; i++) {
      const l = t.left_children[i] as number
      const r = t.right_children[i] as number
      // Children come after their parent, so every walk ends: a malformed file cannot make scoring loop.
      if (l !== -1 && (l <= i || l >= n || r <= i || r >= n)) fail(`${where}: node ${i} has children ${l} and ${r} outside ${i + 1}..${n - 1}`)
      if (l === -1 && r !== -1) fail(`${where}: node ${i} has a right child but no left child`)
      left[offset + i] = l === -1 ? -1 : offset + l
      right[offset + i] = r === -1 ? -1 : offset + r
      feature[offset + i] = t.split_indices[i] as number
      threshold[offset + i] = t.split_conditions[i] as number
      defaultLeft[offset + i] = Number(t.default_left[i]) === 1 ? 1 : 0
    }
    offset += n
  })
  const baseScore = learner.learner_model_param.base_score
  if (logistic.has(objective) && !(baseScore > 0 && baseScore < 1)) fail(`learner.learner_model_param.base_score is ${baseScore}: a logistic objective needs it inside (0, 1)`)
  return {
    manifest: { format: 'xgboost-json', objective, baseScore, trees: trees.length, xgboostVersion: parsed.data.version?.join('.') ?? null },
    arrays: { left, right, feature, threshold, defaultLeft, roots, treeWeights },
  }
}

/** The value of feature `f` in row `r` of `x`, or undefined when the row has no entry (XGBoost's "missing"). */
function lookup(x: SparseMatrix, start: number, end: number, f: number): number | undefined {
  let lo = start
  let hi = end - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const c = x.indices[mid] as number
    if (c === f) return x.values[mid]
    if (c < f) lo = mid + 1
    else hi = mid - 1
  }
  return undefined
}

/**
 * Scores rows of `x` with trees from {@link parseXgboostModel}, as XGBoost does on the same LibSVM rows: a feature
 * absent from a row is missing and takes the node's default direction, a present value goes left when below the
 * split condition.
 */
export function scoreXgboost(weights: ModelWeights, x: SparseMatrix, target?: Float64Array): Float64Array {
  const out = target ?? new Float64Array(x.rows)
  const { left, right, feature, threshold, defaultLeft, roots, treeWeights } = weights.arrays as Partial<Record<string, Float32Array | Float64Array>>
  const objective = weights.manifest.objective
  const baseScore = Number(weights.manifest.baseScore)
  if (left === undefined || right === undefined || feature === undefined || threshold === undefined || defaultLeft === undefined || roots === undefined || treeWeights === undefined || typeof objective !== 'string') {
    throw new FreshetError('USAGE', 'these weights are not an XGBoost model read by the command trainer')
  }
  const sigmoid = logistic.has(objective)
  const base = sigmoid ? Math.log(baseScore / (1 - baseScore)) : baseScore
  for (let r = 0; r < x.rows; r++) {
    const start = x.indptr[r] as number
    const end = x.indptr[r + 1] as number
    let margin = base
    for (let k = 0; k < roots.length; k++) {
      let node = roots[k] as number
      while ((left[node] as number) !== -1) {
        const value = lookup(x, start, end, feature[node] as number)
        const goLeft = value === undefined ? defaultLeft[node] === 1 : value < (threshold[node] as number)
        node = (goLeft ? left[node] : right[node]) as number
      }
      margin += (threshold[node] as number) * (treeWeights[k] as number)
    }
    out[r] = sigmoid ? 1 / (1 + Math.exp(-margin)) : margin
  }
  return out
}
