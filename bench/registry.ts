/**
 * A benchmark: measures Freshet and its peer side by side in the same run, prints a table and one
 * `BENCH_JSON {...}` line, and removes every temporary file it made.
 */
export type Bench = () => Promise<void>

/**
 * Every benchmark by name, in the order `npm run bench` runs them with no argument. Each module is imported
 * only when its benchmark runs, so one benchmark never pays for another's imports.
 */
export const benches: Readonly<Record<string, Bench>> = {
  ingest: async () => (await import('./ingest.js')).ingestBench(),
  train: async () => (await import('./train.js')).trainBench(),
  serve: async () => (await import('./serve.js')).serveBench(),
  validate: async () => (await import('./validate.js')).validateBench(),
  freshness: async () => (await import('./freshness.js')).freshnessBench(),
  backends: async () => (await import('./backends.js')).backendsBench(),
  stream: async () => (await import('./stream.js')).streamBench(),
}
