import { describe } from 'vitest'
import { createTestDatabase, postgresSkipReason } from '../../../../test/support/postgres.js'
import { openPostgresMetadata } from '../../metadata/postgres/postgres-metadata.js'
import { describeEventLogContract } from '../event-log.contract.js'
import { EmbeddedEventLog } from './embedded-event-log.js'

const skip = await postgresSkipReason()

describe.skipIf(skip !== undefined)('EmbeddedEventLog on PostgreSQL', () => {
  describeEventLogContract({
    name: 'embedded on PostgreSQL',
    create: async (options) => {
      const database = await createTestDatabase()
      const db = await openPostgresMetadata(database.url)
      const other = async () => {
        const connection = await openPostgresMetadata(database.url, { maxConnections: 2 })
        return { log: new EmbeddedEventLog(connection, options), close: () => connection.destroy() }
      }
      return {
        db,
        log: new EmbeddedEventLog(db, options),
        connect: other,
        reopen: other,
        cleanup: async () => {
          await db.destroy()
          await database.drop()
        },
      }
    },
  })
})
