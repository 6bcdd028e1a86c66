import { loadConfig } from '../config/load.js'
import { openPlatform, type Platform } from '../app/platform.js'

export interface GlobalOptions {
  workspace?: string
}

/** Opens the workspace's platform for one command and always closes it. */
export async function withPlatform<T>(options: GlobalOptions, run: (platform: Platform) => Promise<T>): Promise<T> {
  const config = await loadConfig(options.workspace ?? process.cwd())
  const platform = await openPlatform(config)
  try {
    return await run(platform)
  } finally {
    await platform.close()
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
