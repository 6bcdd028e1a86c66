import { describe, expect, it } from 'vitest'
import type { PipelineSpec } from '../config/schema.js'
import { checkGate } from './gate.js'

const pipeline = (gate: PipelineSpec['gate']): PipelineSpec => ({ dataset: 'd', task: 'binary', features: {}, trainer: { type: 'linear' }, gate })

describe('checkGate', () => {
  it('min is a minimum for auc and a maximum for logloss', () => {
    expect(checkGate(pipeline({ metric: 'auc', min: 0.9 }), { auc: 0.89 }).reasons).toEqual(["auc 0.8900 is below the gate's minimum of 0.9"])
    expect(checkGate(pipeline({ metric: 'auc', min: 0.9 }), { auc: 0.91 }).passed).toBe(true)
    expect(checkGate(pipeline({ metric: 'logloss', min: 0.3 }), { logloss: 0.31 }).reasons).toEqual(["logloss 0.3100 is above the gate's maximum of 0.3"])
  })

  it('maxRegression compares with production in the direction of the metric', () => {
    const auc = pipeline({ metric: 'auc', maxRegression: 0.01 })
    expect(checkGate(auc, { auc: 0.985 }, { version: 4, metrics: { auc: 0.99 } })).toMatchObject({ passed: true, regression: expect.closeTo(0.005, 10) as unknown })
    const worse = checkGate(auc, { auc: 0.97 }, { version: 4, metrics: { auc: 0.99 } })
    expect(worse.passed).toBe(false)
    expect(worse.reasons[0]).toBe("auc 0.9700 is 0.0200 worse than production v4's 0.9900 on the same holdout; the gate allows at most 0.0100")
    const loss = pipeline({ metric: 'logloss', maxRegression: 0.01 })
    // A higher loss is worse; a lower one is an improvement, whatever its size.
    expect(checkGate(loss, { logloss: 0.22 }, { version: 4, metrics: { logloss: 0.2 } }).passed).toBe(false)
    expect(checkGate(loss, { logloss: 0.1 }, { version: 4, metrics: { logloss: 0.2 } })).toMatchObject({ passed: true, regression: expect.closeTo(-0.1, 10) as unknown })
  })

  it("a relative maxRegression ('1%') is a share of production's value", () => {
    const gate = pipeline({ metric: 'rmse', maxRegression: '10%' })
    expect(checkGate(gate, { rmse: 10.9 }, { version: 2, metrics: { rmse: 10 } })).toMatchObject({ passed: true, allowedRegression: expect.closeTo(1, 10) as unknown })
    const failed = checkGate(gate, { rmse: 11.5 }, { version: 2, metrics: { rmse: 10 } })
    expect(failed.reasons[0]).toMatch(/rmse 11\.5000 is 1\.5000 worse than production v2's 10\.0000 .* at most 1\.0000 \(10% of production's 10\.0000\)/)
  })

  it('says so, rather than failing silently, when production could not be compared', () => {
    const gate = pipeline({ metric: 'auc', min: 0.5, maxRegression: 0.01 })
    const verdict = checkGate(gate, { auc: 0.9 }, { version: 3, problem: 'it is a regression model and the pipeline is now binary' })
    expect(verdict.passed).toBe(true)
    expect(verdict.baseline).toEqual({ version: 3, value: null, problem: 'it is a regression model and the pipeline is now binary' })
    expect(verdict.notes).toEqual(['production v3 could not be evaluated on this holdout (it is a regression model and the pipeline is now binary): maxRegression was not checked'])
    expect(checkGate(gate, { auc: 0.9 }).notes).toEqual(['no production model: maxRegression does not apply'])
  })

  it('fails when the gate metric was not computed', () => {
    expect(checkGate(pipeline({ metric: 'auc', min: 0.5 }), { auc: Number.NaN, logloss: 1 }).reasons[0]).toMatch(/the gate metric auc was not computed/)
  })
})
