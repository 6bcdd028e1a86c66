import { describe, expect, it } from 'vitest'
import { canaryPolicy, judgeCanary, type CanaryEvidence, type CanaryPolicy } from './canary-verdict.js'
import type { OnlineMetrics } from './online-metrics.js'
import type { PipelineSpec } from '../config/schema.js'

const start = Date.parse('2024-03-01T12:00:00.000Z')
const canary = {
  version: 2,
  bakeMs: 15 * 60_000,
  bakeUntil: new Date(start + 15 * 60_000).toISOString(),
  extensions: 0,
}
const during = new Date(start + 5 * 60_000)
const after = new Date(start + 16 * 60_000)
const policy: CanaryPolicy = {
  metric: 'logloss',
  maxRegression: 0.02,
  maxErrorRateIncrease: 0.01,
  minFeedback: 50,
}

function arm(
  labelled: number,
  metrics: Record<string, number | null>,
  requests = labelled,
  errors = 0,
): OnlineMetrics {
  return {
    served: requests,
    labelled,
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : null,
    metrics,
    sampled: false,
  }
}
function evidence(candidate: OnlineMetrics, production: OnlineMetrics, metric = 'logloss'): CanaryEvidence {
  return {
    since: '',
    until: '',
    metric,
    candidate: { versions: [2], ...candidate },
    production: { versions: [1], ...production },
  }
}

describe('judgeCanary', () => {
  it('rolls back as soon as the metric regresses beyond maxRegression, naming both numbers', () => {
    const verdict = judgeCanary(
      canary,
      policy,
      evidence(arm(60, { logloss: 0.35 }), arm(400, { logloss: 0.3 })),
      during,
    )
    expect(verdict.action).toBe('rollback')
    expect(verdict.reason).toContain(
      'online logloss 0.3500 on v2 (60 labelled) vs 0.3000 on production (v1) (400 labelled)',
    )
    expect(verdict.reason).toContain('worse by 0.0500, more than rollbackOn.maxRegression 0.02')
  })

  it('is direction-aware: a lower AUC regresses, a lower log loss does not', () => {
    const auc = { ...policy, metric: 'auc' }
    expect(
      judgeCanary(canary, auc, evidence(arm(60, { auc: 0.9 }), arm(60, { auc: 0.95 }), 'auc'), during).action,
    ).toBe('rollback')
    expect(
      judgeCanary(canary, auc, evidence(arm(60, { auc: 0.99 }), arm(60, { auc: 0.95 }), 'auc'), during)
        .action,
    ).toBe('continue')
    expect(
      judgeCanary(canary, policy, evidence(arm(60, { logloss: 0.1 }), arm(60, { logloss: 0.3 })), during)
        .action,
    ).toBe('continue')
    // Within the allowed regression.
    expect(
      judgeCanary(canary, policy, evidence(arm(60, { logloss: 0.315 }), arm(60, { logloss: 0.3 })), after)
        .action,
    ).toBe('promote')
  })

  it('does not judge the metric on fewer labels than minFeedback per arm', () => {
    expect(
      judgeCanary(canary, policy, evidence(arm(49, { logloss: 5 }), arm(400, { logloss: 0.3 })), during)
        .action,
    ).toBe('continue')
  })

  it('rolls back on a higher predict error rate once both arms served minFeedback requests', () => {
    const verdict = judgeCanary(
      canary,
      policy,
      evidence(arm(0, { logloss: null }, 100, 5), arm(0, { logloss: null }, 900, 0)),
      during,
    )
    expect(verdict).toEqual({
      action: 'rollback',
      reason: expect.stringContaining(
        'predict error rate 5.0% on v2 (100 requests) vs 0.0% on production (v1) (900 requests), up 5.0%',
      ) as unknown,
    })
    expect(
      judgeCanary(
        canary,
        policy,
        evidence(arm(0, { logloss: null }, 40, 5), arm(0, { logloss: null }, 900, 0)),
        during,
      ).action,
    ).toBe('continue')
  })

  it('promotes a healthy canary at the end of the bake; without enough feedback extends once, then ends inconclusive', () => {
    const healthy = evidence(arm(80, { logloss: 0.29 }), arm(500, { logloss: 0.3 }))
    expect(judgeCanary(canary, policy, healthy, during).action).toBe('continue')
    const promoted = judgeCanary(canary, policy, healthy, after)
    expect(promoted.action).toBe('promote')
    expect(promoted.reason).toContain(
      'canary v2 promoted after its bake: online logloss 0.2900 on v2 (80 labelled) vs 0.3000',
    )

    const sparse = evidence(arm(3, { logloss: 0.2 }), arm(500, { logloss: 0.3 }))
    const extended = judgeCanary(canary, policy, sparse, after)
    expect(extended.action).toBe('extend')
    expect(extended.reason).toContain('extended once by 15m 00s')
    expect(extended.reason).toContain('at least 50 labelled predictions per arm')
    const ended = judgeCanary({ ...canary, extensions: 1 }, policy, sparse, after)
    expect(ended.action).toBe('inconclusive')
    expect(ended.reason).toContain('production keeps serving')
  })
})

describe('canaryPolicy', () => {
  const spec = (deploy: PipelineSpec['deploy'], task: PipelineSpec['task'] = 'binary'): PipelineSpec => ({
    dataset: 'd',
    task,
    features: {},
    trainer: { type: 'linear' },
    ...(deploy === undefined ? {} : { deploy }),
  })

  it('reads the deploy block, with safe defaults', () => {
    expect(
      canaryPolicy(
        'p',
        spec({
          canary: { percent: 10, bake: '15m', minFeedback: 20 },
          rollbackOn: { metric: 'auc', maxRegression: 0.01 },
        }),
      ),
    ).toEqual({ metric: 'auc', maxRegression: 0.01, maxErrorRateIncrease: 0.01, minFeedback: 20 })
    expect(canaryPolicy('p', spec(undefined))).toEqual({
      metric: 'logloss',
      maxRegression: 0,
      maxErrorRateIncrease: 0.01,
      minFeedback: 100,
    })
    expect(canaryPolicy('p', spec(undefined, 'regression')).metric).toBe('rmse')
  })

  it('refuses a metric the task has no online value for, naming the config path', () => {
    expect(() => canaryPolicy('p', spec({ rollbackOn: { metric: 'rmse', maxRegression: 1 } }))).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(
          'pipelines.p.deploy.rollbackOn.metric: "rmse" is not an online metric of a binary pipeline',
        ) as unknown,
      }),
    )
  })
})
