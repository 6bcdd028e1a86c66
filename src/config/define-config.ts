import type { FreshetConfigInput } from './schema.js'

/**
 * Types a Freshet configuration. It returns its argument unchanged; validation happens when the config is loaded.
 * @example
 * export default defineConfig({ datasets: { emails: { eventTime: 'sent_at', label: 'is_spam' } } })
 */
export function defineConfig(config: FreshetConfigInput): FreshetConfigInput {
  return config
}
