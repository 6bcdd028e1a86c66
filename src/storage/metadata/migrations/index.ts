import type { Migration, MigrationProvider } from 'kysely'
import { datasets001 } from './001-datasets.js'
import { models002 } from './002-models.js'
import { validation003 } from './003-validation.js'
import { jobs004 } from './004-jobs.js'
import { runs005 } from './005-runs.js'
import { serving007 } from './007-serving.js'
import { schedules008 } from './008-schedules.js'
import { eventLog009 } from './009-event-log.js'
import { monitoring010 } from './010-monitoring.js'
import { streams011 } from './011-streams.js'

/** Every migration, in order. Names sort lexically; never rename or edit one that has shipped. */
const migrations: Record<string, Migration> = {
  '001-datasets': datasets001,
  '002-models': models002,
  '003-validation': validation003,
  '004-jobs': jobs004,
  '005-runs': runs005,
  '007-serving': serving007,
  '008-schedules': schedules008,
  '009-event-log': eventLog009,
  '010-monitoring': monitoring010,
  '011-streams': streams011,
}

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
}
