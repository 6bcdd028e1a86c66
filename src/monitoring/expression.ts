import { FreshetError } from '../core/errors.js'
import { didYouMean } from '../core/names.js'

/**
 * The condition language of monitor rules (`when: 'drift > 0.2 and error_rate >= 0.01'`): comparisons of a
 * variable with a number (or two variables), joined by `and` / `or`, grouped with parentheses. It is parsed by
 * the small recursive-descent parser below and evaluated over a table of numbers: no code is ever evaluated.
 *
 * Variables: `drift` (largest feature drift), `drift.<feature>`, `prediction_drift`, the online metrics `auc`,
 * `logloss`, `accuracy`, `rmse`, `mae`, `error_rate`, and `staleness.data` / `staleness.deploy` in hours. A
 * number may carry a duration unit (`2d`, `36h`, `90m`), which is read in hours, so `staleness.data > 2d` works.
 */

export type Comparison = '>' | '>=' | '<' | '<='

export type Operand =
  | { readonly kind: 'number'; readonly value: number; readonly text: string }
  | { readonly kind: 'variable'; readonly name: string; readonly position: number }

export type Condition =
  | { readonly kind: 'and' | 'or'; readonly left: Condition; readonly right: Condition }
  | { readonly kind: 'compare'; readonly op: Comparison; readonly left: Operand; readonly right: Operand }

/** Variables every pipeline has; `drift.<feature>` is checked against the pipeline's features separately. */
export const monitorVariables = [
  'drift',
  'prediction_drift',
  'auc',
  'logloss',
  'accuracy',
  'rmse',
  'mae',
  'error_rate',
  'staleness.data',
  'staleness.deploy',
] as const

const hoursPer: Record<string, number> = { ms: 1 / 3_600_000, s: 1 / 3600, m: 1 / 60, h: 1, d: 24, w: 168 }

type Token =
  | { type: 'number'; value: number; text: string; at: number }
  | { type: 'name'; text: string; at: number }
  | { type: 'op'; text: Comparison; at: number }
  | { type: '(' | ')' | 'and' | 'or' | 'end'; text: string; at: number }

/** Longest expression accepted: rules are short; this bounds the parser's work (and a rule's default name). */
const maxLength = 200

function fail(expression: string, at: number, what: string): never {
  // Positions are 1-based for people; the caret line shows where.
  throw new FreshetError(
    'CONFIG_INVALID',
    `in condition ${JSON.stringify(expression)} at position ${at + 1}: ${what}\n    ${expression}\n    ${' '.repeat(at)}^`,
    {
      hint: "write comparisons like 'drift > 0.2', 'auc < 0.7 or error_rate >= 0.05', 'staleness.data > 2d'",
    },
  )
}

function tokenize(expression: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < expression.length) {
    const c = expression[i]!
    if (c === ' ' || c === '\t') {
      i++
      continue
    }
    if (c === '(' || c === ')') {
      tokens.push({ type: c, text: c, at: i++ })
      continue
    }
    if (c === '>' || c === '<') {
      const op: Comparison = expression[i + 1] === '=' ? (c === '>' ? '>=' : '<=') : c
      tokens.push({ type: 'op', text: op, at: i })
      i += op.length
      continue
    }
    if (c === '=' || c === '!')
      fail(
        expression,
        i,
        `unsupported operator ${JSON.stringify(expression.slice(i, i + 2))}: use >, >=, < or <=`,
      )
    const number = /^(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(ms|s|m|h|d|w)?(?![A-Za-z0-9_.])/.exec(
      expression.slice(i),
    )
    if (number !== null && (c === '-' || c === '.' || (c >= '0' && c <= '9'))) {
      const value = Number(number[1]) * (number[2] === undefined ? 1 : hoursPer[number[2]]!)
      tokens.push({ type: 'number', value, text: number[0], at: i })
      i += number[0].length
      continue
    }
    const name = /^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*/.exec(expression.slice(i))
    if (name !== null) {
      const word = name[0]
      if (word === 'and' || word === 'or') tokens.push({ type: word, text: word, at: i })
      else tokens.push({ type: 'name', text: word, at: i })
      i += word.length
      continue
    }
    fail(expression, i, `unexpected character ${JSON.stringify(c)}`)
  }
  tokens.push({ type: 'end', text: '', at: expression.length })
  return tokens
}

/**
 * Parses a rule condition. `features` (the pipeline's input columns), when given, are the names `drift.<x>` may use.
 * @throws FreshetError `CONFIG_INVALID` naming the position (1-based) and what was expected there.
 * @example parseCondition('drift > 0.2 and error_rate > 0.01')
 */
export function parseCondition(expression: string, features?: readonly string[]): Condition {
  if (expression.length > maxLength)
    fail(expression.slice(0, 40), 40, `a condition is at most ${maxLength} characters`)
  const tokens = tokenize(expression)
  let k = 0
  const peek = () => tokens[k]!
  const next = () => tokens[k++]!
  const describe = (t: Token) => (t.type === 'end' ? 'the end' : JSON.stringify(t.text))

  const operand = (): Operand => {
    const t = next()
    if (t.type === 'number') return { kind: 'number', value: t.value, text: t.text }
    if (t.type === 'name') {
      checkVariable(expression, t.text, t.at, features)
      return { kind: 'variable', name: t.text, position: t.at + 1 }
    }
    return fail(expression, t.at, `expected a variable or a number, found ${describe(t)}`)
  }
  const primary = (): Condition => {
    if (peek().type === '(') {
      next()
      const inner = or()
      const close = next()
      if (close.type !== ')') fail(expression, close.at, `expected ")", found ${describe(close)}`)
      return inner
    }
    const left = operand()
    const op = next()
    if (op.type !== 'op')
      fail(expression, op.at, `expected a comparison (>, >=, <, <=), found ${describe(op)}`)
    const right = operand()
    if (left.kind === 'number' && right.kind === 'number')
      fail(expression, op.at, 'a comparison needs at least one variable')
    return { kind: 'compare', op: op.text, left, right }
  }
  const and = (): Condition => {
    let left = primary()
    while (peek().type === 'and') {
      next()
      left = { kind: 'and', left, right: primary() }
    }
    return left
  }
  const or = (): Condition => {
    let left = and()
    while (peek().type === 'or') {
      next()
      left = { kind: 'or', left, right: and() }
    }
    return left
  }
  if (peek().type === 'end') fail(expression, 0, 'the condition is empty')
  const condition = or()
  const rest = peek()
  if (rest.type !== 'end')
    fail(expression, rest.at, `expected "and", "or" or the end, found ${describe(rest)}`)
  return condition
}

function checkVariable(
  expression: string,
  name: string,
  at: number,
  features: readonly string[] | undefined,
): void {
  if ((monitorVariables as readonly string[]).includes(name)) return
  if (name.startsWith('drift.')) {
    const feature = name.slice('drift.'.length)
    if (features === undefined || features.includes(feature)) return
    const guess = didYouMean(feature, features)
    fail(
      expression,
      at,
      `drift.${feature}: the pipeline has no input column ${JSON.stringify(feature)}${guess === undefined ? ` (its columns: ${features.join(', ')})` : `; did you mean drift.${guess}?`}`,
    )
  }
  const guess = didYouMean(name, [...monitorVariables])
  fail(
    expression,
    at,
    `unknown variable ${JSON.stringify(name)}${guess === undefined ? ` (known: ${monitorVariables.join(', ')}, drift.<feature>)` : `; did you mean ${JSON.stringify(guess)}?`}`,
  )
}

/** The variables a condition reads, each once. */
export function conditionVariables(condition: Condition): string[] {
  const names = new Set<string>()
  const walk = (c: Condition): void => {
    if (c.kind === 'compare') {
      for (const o of [c.left, c.right]) if (o.kind === 'variable') names.add(o.name)
    } else {
      walk(c.left)
      walk(c.right)
    }
  }
  walk(condition)
  return [...names]
}

/**
 * Whether the condition holds for `values`. A comparison with a variable that has no value (null or absent: no
 * serving data in the window, no labels yet) is false, so a rule never fires on missing data.
 */
export function evaluateCondition(
  condition: Condition,
  values: Readonly<Record<string, number | null | undefined>>,
): boolean {
  if (condition.kind !== 'compare') {
    return condition.kind === 'and'
      ? evaluateCondition(condition.left, values) && evaluateCondition(condition.right, values)
      : evaluateCondition(condition.left, values) || evaluateCondition(condition.right, values)
  }
  const read = (o: Operand): number | null => (o.kind === 'number' ? o.value : (values[o.name] ?? null))
  const a = read(condition.left)
  const b = read(condition.right)
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b)) return false
  switch (condition.op) {
    case '>':
      return a > b
    case '>=':
      return a >= b
    case '<':
      return a < b
    case '<=':
      return a <= b
  }
}
