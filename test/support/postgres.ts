import { randomBytes } from 'node:crypto'
import pg from 'pg'

/**
 * The PostgreSQL server the tests use, through a database that exists on it (each test makes its own database there):
 * `FRESHET_TEST_POSTGRES_URL`, else the CI machine's server with trust authentication.
 */
export const postgresServerUrl =
  process.env.FRESHET_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const required = process.env.FRESHET_REQUIRE_SERVICES === '1'
let probe: Promise<string | undefined> | undefined

/**
 * Why the PostgreSQL tests cannot run here, or undefined when the server answers. A reason is printed once per test
 * file. With `FRESHET_REQUIRE_SERVICES=1` (CI), an absent server is a failure: this throws instead.
 * @example
 * const skip = await postgresSkipReason()
 * describe.skipIf(skip !== undefined)('on PostgreSQL', () => { ... })
 */
export async function postgresSkipReason(): Promise<string | undefined> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: postgresServerUrl, connectionTimeoutMillis: 5_000 })
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.query('select 1')
      return undefined
    } catch (error) {
      return `PostgreSQL at ${postgresServerUrl} is not answering (${error instanceof Error ? error.message : String(error)})`
    } finally {
      await client.end().catch(() => undefined)
    }
  })()
  const reason = await probe
  if (reason !== undefined) {
    if (required)
      throw new Error(
        `${reason}; FRESHET_REQUIRE_SERVICES=1 makes this a failure: start PostgreSQL, or unset it`,
      )
    console.warn(
      `skipping the PostgreSQL tests: ${reason} (set FRESHET_TEST_POSTGRES_URL to use another server)`,
    )
  }
  return reason
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresServerUrl, connectionTimeoutMillis: 10_000 })
  client.on('error', () => undefined)
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

export interface TestDatabase {
  /** Connection URL of the new, empty database. */
  readonly url: string
  readonly name: string
  /** Drops the database, closing any connection still open to it. */
  readonly drop: () => Promise<void>
}

const prefix = 'freshet_test_'
let swept: Promise<void> | undefined

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Drops the databases that test processes which have since died (killed, timed out) could not drop. */
async function sweepLeftovers(): Promise<void> {
  await admin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'`,
    )
    for (const { datname } of rows) {
      const pid = Number(/^freshet_test_(\d+)_[0-9a-f]+$/.exec(datname)?.[1])
      if (Number.isSafeInteger(pid) && !alive(pid))
        await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)
    }
  })
}

/** A new, empty database on the test server, uniquely named so test files running in parallel never share one. */
export async function createTestDatabase(): Promise<TestDatabase> {
  swept ??= sweepLeftovers()
  await swept
  const name = `${prefix}${process.pid}_${randomBytes(6).toString('hex')}`
  await admin((client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(postgresServerUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: () =>
      admin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  }
}

/** Runs `fn` with a fresh database, dropped afterwards whatever happens. */
export async function withPostgresDb<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const database = await createTestDatabase()
  try {
    return await fn(database.url)
  } finally {
    await database.drop()
  }
}
