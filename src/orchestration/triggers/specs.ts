import type { FreshetConfig, PipelineSpec } from '../../config/schema.js'

/** One trigger as declared in a pipeline's `triggers`. */
export type TriggerSpec = NonNullable<PipelineSpec['triggers']>[number]
export type DataTriggerSpec = Extract<TriggerSpec, { on: 'data' }>
export type ScheduleTriggerSpec = Extract<TriggerSpec, { on: 'schedule' }>

/** Every `(pipeline, trigger)` pair of the configuration whose trigger is of kind `on`. */
export function triggersOf<K extends TriggerSpec['on']>(
  config: FreshetConfig,
  on: K,
): { pipeline: string; spec: PipelineSpec; trigger: Extract<TriggerSpec, { on: K }> }[] {
  return Object.entries(config.pipelines ?? {}).flatMap(([pipeline, spec]) =>
    (spec.triggers ?? [])
      .filter((t): t is Extract<TriggerSpec, { on: K }> => t.on === on)
      .map((trigger) => ({ pipeline, spec, trigger })),
  )
}
