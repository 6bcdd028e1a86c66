import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

/** A running S3-compatible server on 127.0.0.1 with one empty bucket, and how to stop it. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string
  readonly bucket: string
  /** s3rver's fixed key pair. It checks the access key id; it does not verify SigV4 signatures. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string }
  /** Where the server keeps its buckets on disk (one folder per bucket). */
  readonly directory: string
  /** Stops the server and removes its files. */
  stop(): Promise<void>
}

/**
 * Starts s3rver (an S3-compatible server from npm) in its own process on 127.0.0.1 and a free port, over a fresh
 * temp directory, with the bucket `bucket`. See s3-server-main.ts for how it is made to keep S3's semantics.
 * @example
 * const server = await startS3TestServer()
 * const store = await S3BlobStore.open(`s3://${server.bucket}/p`, { endpoint: server.endpoint, credentials: server.credentials })
 */
export async function startS3TestServer(bucket = 'freshet-test'): Promise<S3TestServer> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'freshet-s3-'))
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      '--import',
      'jiti/register',
      path.join(here, 's3-server-main.ts'),
      directory,
      bucket,
    ],
    { cwd: path.resolve(here, '../..'), stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const exited = once(child, 'exit')
  const lines = createInterface({ input: child.stdout })
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => String(line)),
    exited.then(([code]) => {
      throw new Error(`the S3 test server (s3rver) exited with code ${String(code)} before listening`)
    }),
  ])
  const { port } = JSON.parse(first) as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    directory,
    stop: async () => {
      child.stdin.end()
      await exited
      await rm(directory, { recursive: true, force: true })
    },
  }
}
