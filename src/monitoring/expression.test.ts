import { describe, expect, it } from 'vitest'
import { isFreshetError } from '../core/errors.js'
import { configFromObject } from '../config/load.js'
import { conditionVariables, evaluateCondition, parseCondition } from './expression.js'

const error = (fn: () => unknown): string => {
  try {
    fn()
  } catch (e) {
    expect(isFreshetError(e, 'CONFIG_INVALID')).toBe(true)
    return (e as Error).message
  }
  throw new Error('expected an error')
}

describe('monitor conditions', () => {
  it('compare variables with numbers, with and/or precedence and parentheses', () => {
    const c = parseCondition('drift > 0.2 or auc < 0.7 and error_rate >= 0.01')
    expect(evaluateCondition(c, { drift: 0.3 })).toBe(true)
    expect(evaluateCondition(c, { drift: 0.1, auc: 0.6, error_rate: 0.02 })).toBe(true)
    expect(evaluateCondition(c, { drift: 0.1, auc: 0.6, error_rate: 0.001 })).toBe(false)
    const grouped = parseCondition('(drift > 0.2 or auc < 0.7) and error_rate >= 0.01')
    expect(evaluateCondition(grouped, { drift: 0.3, error_rate: 0 })).toBe(false)
    expect(conditionVariables(grouped)).toEqual(['drift', 'auc', 'error_rate'])
  })

  it('read durations in hours, so staleness compares with 2d', () => {
    const c = parseCondition('staleness.data > 2d or staleness.deploy >= 90m')
    expect(evaluateCondition(c, { 'staleness.data': 47, 'staleness.deploy': 1 })).toBe(false)
    expect(evaluateCondition(c, { 'staleness.data': 49 })).toBe(true)
    expect(evaluateCondition(c, { 'staleness.data': 1, 'staleness.deploy': 1.5 })).toBe(true)
  })

  it('never fire on a missing value', () => {
    const c = parseCondition('auc < 0.7')
    expect(evaluateCondition(c, {})).toBe(false)
    expect(evaluateCondition(c, { auc: null })).toBe(false)
    expect(evaluateCondition(parseCondition('0.7 > auc'), { auc: 0.5 })).toBe(true)
  })

  it('name the position of a mistake, with a caret under it', () => {
    expect(error(() => parseCondition('drift >'))).toMatch(
      /at position 8: expected a variable or a number, found the end/,
    )
    expect(error(() => parseCondition('drfit > 0.2'))).toMatch(
      /at position 1: unknown variable "drfit"; did you mean "drift"\?/,
    )
    expect(error(() => parseCondition('drift > 0.2 and'))).toMatch(/at position 16/)
    expect(error(() => parseCondition('drift == 0.2'))).toMatch(/at position 7: unsupported operator "=="/)
    expect(error(() => parseCondition('drift > 0.2; process.exit()'))).toMatch(
      /at position 12: unexpected character ";"/,
    )
    expect(error(() => parseCondition('(drift > 0.2'))).toMatch(/expected "\)", found the end/)
    expect(error(() => parseCondition('1 > 2'))).toMatch(/needs at least one variable/)
    expect(error(() => parseCondition(''))).toMatch(/empty/)
    expect(error(() => parseCondition('drift.distnce > 0.1', ['distance', 'origin']))).toMatch(
      /did you mean drift.distance\?/,
    )
    expect(error(() => parseCondition('auc < x7'))).toContain('\n    auc < x7\n          ^')
  })

  it('are checked when the config loads, naming the monitor', () => {
    const config = (when: string) => ({
      datasets: { d: { label: 'y' } },
      pipelines: {
        p: {
          dataset: 'd',
          task: 'binary',
          features: { x: { type: 'numeric' } },
          trainer: { type: 'linear' },
          monitors: [{ when, then: ['alert'] }],
        },
      },
    })
    expect(() => configFromObject(config('drift > 0.2'), '/tmp')).not.toThrow()
    let message = ''
    try {
      configFromObject(config('drift >> 0.2'), '/tmp')
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toContain('pipelines.p.monitors[0].when')
    expect(message).toContain('at position 8')
  })
})
