import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { openSqliteMetadata } from '../../metadata/sqlite/sqlite-metadata.js'
import { describeEventLogContract } from '../event-log.contract.js'
import { EmbeddedEventLog } from './embedded-event-log.js'

describeEventLogContract({
  name: 'embedded on SQLite',
  create: async (options) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'freshet-log-'))
    const file = path.join(dir, 'freshet.db')
    const db = await openSqliteMetadata(file)
    return {
      db,
      log: new EmbeddedEventLog(db, options),
      // better-sqlite3 is synchronous: a second connection of this process waiting for the write lock would block
      // the very thread that holds it. Logs of one process share the connection (whose queue orders transactions);
      // other processes wait for SQLite's lock (see the cross-process test in the topics tests).
      connect: () =>
        Promise.resolve({ log: new EmbeddedEventLog(db, options), close: () => Promise.resolve() }),
      reopen: async () => {
        const other = await openSqliteMetadata(file)
        return { log: new EmbeddedEventLog(other, options), close: () => other.destroy() }
      },
      cleanup: async () => {
        await db.destroy()
        await rm(dir, { recursive: true, force: true })
      },
    }
  },
})
