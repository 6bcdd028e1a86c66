import { randomBytes } from 'node:crypto'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

/** The NATS server (with JetStream) the tests use: `FRESHET_TEST_NATS_URL`, else the CI machine's server. */
export const natsServerUrl = process.env.FRESHET_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

const required = process.env.FRESHET_REQUIRE_SERVICES === '1'
let probe: Promise<string | undefined> | undefined

/**
 * Why the NATS tests cannot run here, or undefined when the server answers with JetStream. A reason is printed once
 * per test file. With `FRESHET_REQUIRE_SERVICES=1` (CI), an absent server is a failure: this throws instead.
 * @example
 * const skip = await natsSkipReason()
 * describe.skipIf(skip !== undefined)('on NATS', () => { ... })
 */
export async function natsSkipReason(): Promise<string | undefined> {
  probe ??= (async () => {
    try {
      const nc = await connect({ servers: natsServerUrl, timeout: 5_000, reconnect: false })
      try {
        await (await jetstreamManager(nc)).getAccountInfo()
        return undefined
      } finally {
        await nc.close()
      }
    } catch (error) {
      return `NATS JetStream at ${natsServerUrl} is not answering (${error instanceof Error ? error.message : String(error)})`
    }
  })()
  const reason = await probe
  if (reason !== undefined) {
    if (required)
      throw new Error(
        `${reason}; FRESHET_REQUIRE_SERVICES=1 makes this a failure: start nats-server -js, or unset it`,
      )
    console.warn(`skipping the NATS tests: ${reason} (set FRESHET_TEST_NATS_URL to use another server)`)
  }
  return reason
}

/** A name prefix no other test uses: every stream a test makes starts with `<prefix>_`. */
export function testNatsPrefix(): string {
  return `t${process.pid.toString(36)}-${randomBytes(5).toString('hex')}`
}

/** Deletes every stream (and so every consumer) whose name starts with `<prefix>_`. */
export async function deleteNatsStreams(prefix: string): Promise<number> {
  const nc = await connect({ servers: natsServerUrl, timeout: 5_000, reconnect: false })
  try {
    const jsm = await jetstreamManager(nc)
    let deleted = 0
    for await (const name of jsm.streams.names()) {
      if (!name.startsWith(`${prefix}_`)) continue
      await jsm.streams.delete(name)
      deleted++
    }
    return deleted
  } finally {
    await nc.close()
  }
}
